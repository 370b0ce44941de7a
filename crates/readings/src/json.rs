//! JSON forms of uploads and registrations (docs/formats.md, "JSON").
//!
//! Hashes, keys and signatures are lowercase hex; times are RFC 3339 strings (written in UTC
//! with `Z`; any offset is accepted on input, fractional seconds are not). Decoding applies the
//! same limits as the binary decoder and errors name the field path and the offending value.
//! Unknown fields, duplicate fields and trailing characters are errors.

use crate::encoding::{check_time, Field};
use crate::{Channel, DecodeError, DeviceRegistration, SignedUpload, UploadBody};
use crate::{KeyType, PublicKey};
use crate::{MAX_CHANNELS, MAX_VALUES};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::{Cell, RefCell};
use std::fmt;
use tanji_units::time;

// ---------------------------------------------------------------------------------------------
// Times

/// Parses an RFC 3339 time with whole seconds into Unix seconds.
fn parse_time(s: &str) -> Result<i64, String> {
    time::parse_rfc3339_whole(s).map_err(|e| match e {
        time::InstantError::NotRfc3339 { reason, .. } => {
            format!("{s:?} is not an RFC 3339 time like \"2026-11-01T00:00:00Z\" ({reason})")
        }
        time::InstantError::Fractional { .. } => {
            format!("{s:?} has fractional seconds; times are whole seconds")
        }
    })
}

struct TimeOut(i64);

impl Serialize for TimeOut {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if check_time(Field::top("time"), self.0).is_ok() {
            s.serialize_str(&time::rfc3339(self.0))
        } else {
            // Only records that break the limits get here; parsing rejects them.
            s.serialize_i64(self.0)
        }
    }
}

struct TimeIn(i64);

impl<'de> Deserialize<'de> for TimeIn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = TimeIn;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 time string like \"2026-11-01T00:00:00Z\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TimeIn, E> {
                parse_time(s).map(TimeIn).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

// ---------------------------------------------------------------------------------------------
// Hex

struct HexOut<'a>(&'a [u8]);

impl fmt::Display for HexOut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl Serialize for HexOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

struct HexIn<const N: usize>([u8; N]);

impl<'de, const N: usize> Deserialize<'de> for HexIn<N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<const N: usize>;
        impl<const N: usize> Visitor<'_> for V<N> {
            type Value = HexIn<N>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a string of {} hex digits", 2 * N)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<HexIn<N>, E> {
                let mut out = [0u8; N];
                if s.len() != 2 * N || hex::decode_to_slice(s, &mut out).is_err() {
                    return Err(E::custom(format_args!("{s:?} is not {} hex digits", 2 * N)));
                }
                Ok(HexIn(out))
            }
        }
        d.deserialize_str(V::<N>)
    }
}

// ---------------------------------------------------------------------------------------------
// Serialization

impl Serialize for Channel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Channel", 7)?;
        st.serialize_field("meter", &self.meter)?;
        st.serialize_field("carrier", &self.carrier)?;
        st.serialize_field("unit", &self.unit)?;
        st.serialize_field("decimals", &self.decimals)?;
        st.serialize_field("start", &TimeOut(self.start))?;
        st.serialize_field("interval_s", &self.interval_s)?;
        st.serialize_field("values", &self.values)?;
        st.end()
    }
}

impl Serialize for SignedUpload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("SignedUpload", 5)?;
        st.serialize_field("device", &self.body.device)?;
        st.serialize_field("seq", &self.body.seq)?;
        st.serialize_field("prev", &HexOut(&self.body.prev))?;
        st.serialize_field("channels", &self.body.channels)?;
        st.serialize_field("signature", &HexOut(&self.signature))?;
        st.end()
    }
}

impl Serialize for DeviceRegistration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("DeviceRegistration", 8)?;
        st.serialize_field("device", &self.device)?;
        // Ed25519 registrations keep the form they had before key types.
        if self.public_key.key_type() != KeyType::Ed25519 {
            st.serialize_field("key_type", self.public_key.key_type().name())?;
        }
        st.serialize_field("public_key", &HexOut(self.public_key.as_bytes()))?;
        st.serialize_field("enterprise", &self.enterprise)?;
        st.serialize_field("meter", &self.meter)?;
        st.serialize_field("carrier", &self.carrier)?;
        st.serialize_field("unit", &self.unit)?;
        st.serialize_field("rated_per_hour_milli", &self.rated_per_hour_milli)?;
        st.serialize_field("registered_at", &TimeOut(self.registered_at))?;
        st.end()
    }
}

fn to_line<T: Serialize>(v: &T) -> String {
    match serde_json::to_string(v) {
        Ok(s) => s,
        // Our Serialize impls never fail and a String writer cannot fail.
        Err(e) => unreachable!("serializing a record to JSON failed: {e}"),
    }
}

/// One line of JSON (no trailing newline); round-trips exactly through [`parse_json_upload`]
/// for every record that passes [`UploadBody::check_limits`].
pub fn upload_to_json(u: &SignedUpload) -> String {
    to_line(u)
}

/// One line of JSON (no trailing newline); round-trips exactly through
/// [`parse_json_registration`] for every registration that passes [`DeviceRegistration::check`].
pub fn registration_to_json(r: &DeviceRegistration) -> String {
    to_line(r)
}

// ---------------------------------------------------------------------------------------------
// Deserialization, remembering which field is being read so errors can name it

struct Tracker {
    field: Cell<Field>,
    /// A limits error found after a record was read; reported as such rather than as JSON.
    limits: RefCell<Option<DecodeError>>,
}

impl Tracker {
    fn new() -> Tracker {
        Tracker {
            field: Cell::new(Field::top("record")),
            limits: RefCell::new(None),
        }
    }

    fn at(&self, f: Field) {
        self.field.set(f);
    }

    fn limits_failed<E: de::Error>(&self, e: DecodeError) -> E {
        let err = E::custom(&e);
        *self.limits.borrow_mut() = Some(e);
        err
    }
}

fn once<T, E: de::Error>(slot: &Option<T>, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    Ok(())
}

fn need<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum UploadKey {
    Device,
    Seq,
    Prev,
    Channels,
    Signature,
}

const UPLOAD_FIELDS: &[&str] = &["device", "seq", "prev", "channels", "signature"];

struct UploadSeed<'t>(&'t Tracker);

impl<'de> DeserializeSeed<'de> for UploadSeed<'_> {
    type Value = SignedUpload;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<SignedUpload, D::Error> {
        d.deserialize_struct("SignedUpload", UPLOAD_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for UploadSeed<'_> {
    type Value = SignedUpload;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an upload record object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SignedUpload, A::Error> {
        let t = self.0;
        let (mut device, mut seq, mut prev, mut channels, mut signature) =
            (None, None, None, None, None);
        loop {
            t.at(Field::top("record"));
            let Some(key) = map.next_key::<UploadKey>()? else {
                break;
            };
            match key {
                UploadKey::Device => {
                    t.at(Field::top("device"));
                    once(&device, "device")?;
                    device = Some(map.next_value::<String>()?);
                }
                UploadKey::Seq => {
                    t.at(Field::top("seq"));
                    once(&seq, "seq")?;
                    seq = Some(map.next_value::<u64>()?);
                }
                UploadKey::Prev => {
                    t.at(Field::top("prev"));
                    once(&prev, "prev")?;
                    prev = Some(map.next_value::<HexIn<32>>()?.0);
                }
                UploadKey::Channels => {
                    t.at(Field::top("channels"));
                    once(&channels, "channels")?;
                    channels = Some(map.next_value_seed(ChannelsSeed(t))?);
                }
                UploadKey::Signature => {
                    t.at(Field::top("signature"));
                    once(&signature, "signature")?;
                    signature = Some(map.next_value::<HexIn<64>>()?.0);
                }
            }
        }
        t.at(Field::top("record"));
        let u = SignedUpload {
            body: UploadBody {
                device: need(device, "device")?,
                seq: need(seq, "seq")?,
                prev: need(prev, "prev")?,
                channels: need(channels, "channels")?,
            },
            signature: need(signature, "signature")?,
        };
        u.body.check_limits().map_err(|e| t.limits_failed(e))?;
        Ok(u)
    }
}

struct ChannelsSeed<'t>(&'t Tracker);

impl<'de> DeserializeSeed<'de> for ChannelsSeed<'_> {
    type Value = Vec<Channel>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Channel>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChannelsSeed<'_> {
    type Value = Vec<Channel>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of at most 16 channel objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Channel>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(MAX_CHANNELS));
        loop {
            let i = out.len();
            self.0.at(Field {
                channel: None,
                name: "channels",
                index: Some(i),
            });
            let Some(c) = seq.next_element_seed(ChannelSeed(self.0, i))? else {
                break;
            };
            if i >= MAX_CHANNELS {
                return Err(de::Error::custom("more than 16 channels"));
            }
            out.push(c);
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChannelKey {
    Meter,
    Carrier,
    Unit,
    Decimals,
    Start,
    IntervalS,
    Values,
}

const CHANNEL_FIELDS: &[&str] = &[
    "meter",
    "carrier",
    "unit",
    "decimals",
    "start",
    "interval_s",
    "values",
];

struct ChannelSeed<'t>(&'t Tracker, usize);

impl<'de> DeserializeSeed<'de> for ChannelSeed<'_> {
    type Value = Channel;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Channel, D::Error> {
        d.deserialize_struct("Channel", CHANNEL_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for ChannelSeed<'_> {
    type Value = Channel;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a channel object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Channel, A::Error> {
        let (t, i) = (self.0, self.1);
        let (mut meter, mut carrier, mut unit, mut decimals) = (None, None, None, None);
        let (mut start, mut interval_s, mut values) = (None, None, None);
        loop {
            t.at(Field {
                channel: None,
                name: "channels",
                index: Some(i),
            });
            let Some(key) = map.next_key::<ChannelKey>()? else {
                break;
            };
            match key {
                ChannelKey::Meter => {
                    t.at(Field::ch(i, "meter"));
                    once(&meter, "meter")?;
                    meter = Some(map.next_value::<String>()?);
                }
                ChannelKey::Carrier => {
                    t.at(Field::ch(i, "carrier"));
                    once(&carrier, "carrier")?;
                    carrier = Some(map.next_value::<String>()?);
                }
                ChannelKey::Unit => {
                    t.at(Field::ch(i, "unit"));
                    once(&unit, "unit")?;
                    unit = Some(map.next_value::<String>()?);
                }
                ChannelKey::Decimals => {
                    t.at(Field::ch(i, "decimals"));
                    once(&decimals, "decimals")?;
                    decimals = Some(map.next_value::<u8>()?);
                }
                ChannelKey::Start => {
                    t.at(Field::ch(i, "start"));
                    once(&start, "start")?;
                    start = Some(map.next_value::<TimeIn>()?.0);
                }
                ChannelKey::IntervalS => {
                    t.at(Field::ch(i, "interval_s"));
                    once(&interval_s, "interval_s")?;
                    interval_s = Some(map.next_value::<u32>()?);
                }
                ChannelKey::Values => {
                    t.at(Field::ch(i, "values"));
                    once(&values, "values")?;
                    values = Some(map.next_value_seed(ValuesSeed(t, i))?);
                }
            }
        }
        t.at(Field {
            channel: None,
            name: "channels",
            index: Some(i),
        });
        Ok(Channel {
            meter: need(meter, "meter")?,
            carrier: need(carrier, "carrier")?,
            unit: need(unit, "unit")?,
            decimals: need(decimals, "decimals")?,
            start: need(start, "start")?,
            interval_s: need(interval_s, "interval_s")?,
            values: need(values, "values")?,
        })
    }
}

struct ValuesSeed<'t>(&'t Tracker, usize);

impl<'de> DeserializeSeed<'de> for ValuesSeed<'_> {
    type Value = Vec<i64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<i64>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ValuesSeed<'_> {
    type Value = Vec<i64>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of at most 1440 integers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<i64>, A::Error> {
        // serde_json gives no size hint; 96 (a day of 15-minute values) avoids regrowth
        // in the common case.
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(96).min(MAX_VALUES));
        loop {
            let j = out.len();
            self.0.at(Field {
                channel: Some(self.1),
                name: "values",
                index: Some(j),
            });
            let Some(v) = seq.next_element::<i64>()? else {
                break;
            };
            if j >= MAX_VALUES {
                return Err(de::Error::custom("more than 1440 values"));
            }
            out.push(v);
        }
        Ok(out)
    }
}

impl<'de> Deserialize<'de> for SignedUpload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        UploadSeed(&Tracker::new()).deserialize(d)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum RegKey {
    Device,
    KeyType,
    PublicKey,
    Enterprise,
    Meter,
    Carrier,
    Unit,
    RatedPerHourMilli,
    RegisteredAt,
}

const REG_FIELDS: &[&str] = &[
    "device",
    "key_type",
    "public_key",
    "enterprise",
    "meter",
    "carrier",
    "unit",
    "rated_per_hour_milli",
    "registered_at",
];

struct RegSeed<'t>(&'t Tracker);

impl<'de> DeserializeSeed<'de> for RegSeed<'_> {
    type Value = DeviceRegistration;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<DeviceRegistration, D::Error> {
        d.deserialize_struct("DeviceRegistration", REG_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for RegSeed<'_> {
    type Value = DeviceRegistration;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a device registration object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DeviceRegistration, A::Error> {
        let t = self.0;
        let (mut device, mut public_key, mut enterprise, mut meter) = (None, None, None, None);
        let (mut carrier, mut unit, mut rated, mut registered_at) = (None, None, None, None);
        let mut key_type: Option<KeyType> = None;
        fn string<'de, A: MapAccess<'de>>(
            map: &mut A,
            t: &Tracker,
            slot: &mut Option<String>,
            name: &'static str,
        ) -> Result<(), A::Error> {
            t.at(Field::top(name));
            once(slot, name)?;
            *slot = Some(map.next_value::<String>()?);
            Ok(())
        }
        loop {
            t.at(Field::top("record"));
            let Some(key) = map.next_key::<RegKey>()? else {
                break;
            };
            match key {
                RegKey::Device => string(&mut map, t, &mut device, "device")?,
                RegKey::Enterprise => string(&mut map, t, &mut enterprise, "enterprise")?,
                RegKey::Meter => string(&mut map, t, &mut meter, "meter")?,
                RegKey::Carrier => string(&mut map, t, &mut carrier, "carrier")?,
                RegKey::Unit => string(&mut map, t, &mut unit, "unit")?,
                RegKey::KeyType => {
                    t.at(Field::top("key_type"));
                    once(&key_type, "key_type")?;
                    let name = map.next_value::<String>()?;
                    key_type = Some(KeyType::from_name(&name).ok_or_else(|| {
                        de::Error::custom(format_args!(
                            "{name:?} is not a key type; known: ed25519 (the default), sm2, p256"
                        ))
                    })?);
                }
                RegKey::PublicKey => string(&mut map, t, &mut public_key, "public_key")?,
                RegKey::RatedPerHourMilli => {
                    t.at(Field::top("rated_per_hour_milli"));
                    once(&rated, "rated_per_hour_milli")?;
                    rated = Some(map.next_value::<i64>()?);
                }
                RegKey::RegisteredAt => {
                    t.at(Field::top("registered_at"));
                    once(&registered_at, "registered_at")?;
                    registered_at = Some(map.next_value::<TimeIn>()?.0);
                }
            }
        }
        t.at(Field::top("record"));
        let public_key: String = need(public_key, "public_key")?;
        t.at(Field::top("public_key"));
        let public_key = registration_key(key_type.unwrap_or(KeyType::Ed25519), &public_key)
            .map_err(de::Error::custom)?;
        t.at(Field::top("record"));
        let r = DeviceRegistration {
            device: need(device, "device")?,
            public_key,
            enterprise: need(enterprise, "enterprise")?,
            meter: need(meter, "meter")?,
            carrier: need(carrier, "carrier")?,
            unit: need(unit, "unit")?,
            rated_per_hour_milli: need(rated, "rated_per_hour_milli")?,
            registered_at: need(registered_at, "registered_at")?,
        };
        r.check().map_err(|e| t.limits_failed(e))?;
        Ok(r)
    }
}

/// A registration's key from its hex: exactly the key type's length (compressed SEC1 points
/// for SM2 and P-256), as the binary form holds it.
fn registration_key(key_type: KeyType, hex_key: &str) -> Result<PublicKey, String> {
    let len = key_type.public_key_len();
    let mut out = [0u8; 33];
    let out = &mut out[..len];
    if hex_key.len() != 2 * len || hex::decode_to_slice(hex_key, out).is_err() {
        return Err(format!(
            "{hex_key:?} is not {} hex digits (a {key_type} key{})",
            2 * len,
            if key_type == KeyType::Ed25519 {
                ""
            } else {
                ", SEC1 compressed"
            }
        ));
    }
    PublicKey::from_bytes(key_type, out).map_err(|e| e.to_string())
}

impl<'de> Deserialize<'de> for DeviceRegistration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        RegSeed(&Tracker::new()).deserialize(d)
    }
}

fn finish<T>(
    t: &Tracker,
    de: &mut serde_json::Deserializer<serde_json::de::StrRead<'_>>,
    res: Result<T, serde_json::Error>,
) -> Result<T, DecodeError> {
    let res = res.and_then(|v| {
        t.at(Field::top("record"));
        de.end().map(|()| v)
    });
    res.map_err(|e| match t.limits.borrow_mut().take() {
        Some(limits) => limits,
        None => DecodeError::Json {
            field: t.field.get().to_string(),
            message: e.to_string(),
        },
    })
}

/// Parses one JSON upload object (docs/formats.md, "JSON"). Errors name the field path
/// (e.g. `channels[0].values[5]`) and the offending value; format limits are applied as in
/// [`SignedUpload::from_bytes`]. The signature is not checked.
pub fn parse_json_upload(line: &str) -> Result<SignedUpload, DecodeError> {
    let t = Tracker::new();
    let mut de = serde_json::Deserializer::from_str(line);
    let res = UploadSeed(&t).deserialize(&mut de);
    finish(&t, &mut de, res)
}

/// Parses JSON-lines registrations (blank lines skipped), each as
/// [`parse_json_registration`] does; the first that fails is returned with its 1-based line.
pub fn parse_json_registrations(
    text: &str,
) -> Result<Vec<DeviceRegistration>, (usize, DecodeError)> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| parse_json_registration(line).map_err(|e| (n + 1, e)))
        .collect()
}

/// Parses one JSON registration object and applies [`DeviceRegistration::check`].
pub fn parse_json_registration(line: &str) -> Result<DeviceRegistration, DecodeError> {
    let t = Tracker::new();
    let mut de = serde_json::Deserializer::from_str(line);
    let res = RegSeed(&t).deserialize(&mut de);
    finish(&t, &mut de, res)
}
