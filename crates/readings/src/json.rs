//! JSON forms of uploads and registrations (see docs/formats.md).

use crate::{DecodeError, DeviceRegistration, SignedUpload};

/// Parses one JSON upload object; errors name the field and value.
pub fn parse_json_upload(line: &str) -> Result<SignedUpload, DecodeError> {
    let _ = line;
    todo!()
}

/// One line of JSON (no trailing newline); round-trips exactly through [`parse_json_upload`].
pub fn upload_to_json(u: &SignedUpload) -> String {
    let _ = u;
    todo!()
}

/// Parses one JSON registration object; errors name the field and value.
pub fn parse_json_registration(line: &str) -> Result<DeviceRegistration, DecodeError> {
    let _ = line;
    todo!()
}

/// One line of JSON (no trailing newline); round-trips exactly.
pub fn registration_to_json(r: &DeviceRegistration) -> String {
    let _ = r;
    todo!()
}
