//! Reading a meter over its transport: DL/T 645 over TCP (a serial-to-Ethernet converter in
//! transparent mode) or a serial port, Modbus TCP or Modbus RTU over a serial port. One
//! connection per meter, kept open and reopened after an error.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_modbus::client::{Context, Reader};
use tokio_modbus::Slave;
use tokio_serial::SerialPortBuilderExt;

use crate::config::{Meter, Protocol, Transport};
use crate::dlt645;
use crate::modbus::{self, RawValue, RegisterKind};

/// A read that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The transport failed (connection refused, port missing, timeout).
    #[error("meter {meter} at {at}: {what}")]
    Io {
        /// Meter id.
        meter: String,
        /// Where it was reached.
        at: String,
        /// What failed.
        what: String,
    },
    /// The meter answered something wrong.
    #[error("meter {meter} at {at}: {what}")]
    Protocol {
        /// Meter id.
        meter: String,
        /// Where it was reached.
        at: String,
        /// What was wrong.
        what: String,
    },
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

enum Conn {
    Closed,
    Dlt645(Box<dyn Stream>),
    Modbus(Context),
}

/// A meter and its connection.
pub struct MeterReader {
    /// The meter's configuration.
    pub meter: Meter,
    conn: Conn,
    timeout: Duration,
}

impl std::fmt::Debug for MeterReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeterReader")
            .field("meter", &self.meter.meter)
            .finish()
    }
}

fn at(t: &Transport) -> String {
    match t {
        Transport::Tcp(a) => format!("tcp {a}"),
        Transport::Serial(p, b, _) => format!("serial {p} at {b} baud"),
    }
}

impl MeterReader {
    /// A reader of `meter`; every exchange is bounded by `timeout`.
    pub fn new(meter: Meter, timeout: Duration) -> Self {
        MeterReader {
            meter,
            conn: Conn::Closed,
            timeout,
        }
    }

    fn io(&self, what: impl std::fmt::Display) -> ReadError {
        ReadError::Io {
            meter: self.meter.meter.clone(),
            at: at(&self.meter.transport),
            what: what.to_string(),
        }
    }

    fn protocol(&self, what: impl std::fmt::Display) -> ReadError {
        ReadError::Protocol {
            meter: self.meter.meter.clone(),
            at: at(&self.meter.transport),
            what: what.to_string(),
        }
    }

    async fn stream(&self) -> Result<Box<dyn Stream>, ReadError> {
        match &self.meter.transport {
            Transport::Tcp(addr) => {
                let addr: SocketAddr = tokio::net::lookup_host(addr)
                    .await
                    .map_err(|e| self.io(e))?
                    .next()
                    .ok_or_else(|| self.io("the host name has no address"))?;
                let s = tokio::time::timeout(self.timeout, TcpStream::connect(addr))
                    .await
                    .map_err(|_| self.io("connection timed out"))?
                    .map_err(|e| self.io(e))?;
                s.set_nodelay(true).map_err(|e| self.io(e))?;
                Ok(Box::new(s))
            }
            Transport::Serial(path, baud, parity) => {
                let parity = match parity.as_str() {
                    "odd" => tokio_serial::Parity::Odd,
                    "none" => tokio_serial::Parity::None,
                    _ => tokio_serial::Parity::Even,
                };
                let port = tokio_serial::new(path, *baud)
                    .data_bits(tokio_serial::DataBits::Eight)
                    .stop_bits(tokio_serial::StopBits::One)
                    .parity(parity)
                    .timeout(self.timeout)
                    .open_native_async()
                    .map_err(|e| self.io(e))?;
                Ok(Box::new(port))
            }
        }
    }

    async fn connect(&mut self) -> Result<(), ReadError> {
        if !matches!(self.conn, Conn::Closed) {
            return Ok(());
        }
        let stream = self.stream().await?;
        self.conn = match (&self.meter.protocol, &self.meter.transport) {
            (Protocol::Dlt645 { .. }, _) => Conn::Dlt645(stream),
            (Protocol::Modbus { unit_id, .. }, Transport::Tcp(_)) => Conn::Modbus(
                tokio_modbus::client::tcp::attach_slave(DebugStream(stream), Slave(*unit_id)),
            ),
            (Protocol::Modbus { unit_id, .. }, Transport::Serial(..)) => Conn::Modbus(
                tokio_modbus::client::rtu::attach_slave(DebugStream(stream), Slave(*unit_id)),
            ),
        };
        Ok(())
    }

    /// Reads the meter's register once. On any error the connection is closed, to be
    /// reopened by the next read.
    pub async fn read(&mut self) -> Result<RawValue, ReadError> {
        let result = tokio::time::timeout(self.timeout, self.read_inner()).await;
        let result = result.unwrap_or_else(|_| Err(self.io("no answer within the timeout")));
        if result.is_err() {
            self.conn = Conn::Closed;
        }
        result
    }

    async fn read_inner(&mut self) -> Result<RawValue, ReadError> {
        self.connect().await?;
        let protocol = self.meter.protocol.clone();
        match (&mut self.conn, protocol) {
            (Conn::Dlt645(stream), Protocol::Dlt645 { address, di }) => {
                let values = dlt645_read(stream, address, di).await;
                match values {
                    Ok(Ok(v)) => Ok(RawValue::Int(i128::from(v))),
                    Ok(Err(e)) => Err(self.protocol(e)),
                    Err(e) => Err(self.io(e)),
                }
            }
            (
                Conn::Modbus(ctx),
                Protocol::Modbus {
                    register,
                    kind,
                    value_type,
                    word_order,
                    ..
                },
            ) => {
                let n = value_type.registers();
                let words = match kind {
                    RegisterKind::Holding => ctx.read_holding_registers(register, n).await,
                    RegisterKind::Input => ctx.read_input_registers(register, n).await,
                };
                let words = match words {
                    Ok(Ok(w)) => w,
                    Ok(Err(exception)) => {
                        return Err(self.protocol(format!(
                            "Modbus exception {exception} reading register {register}"
                        )))
                    }
                    Err(e) => return Err(self.io(e)),
                };
                modbus::decode(&words, value_type, word_order).map_err(|e| self.protocol(e))
            }
            _ => Err(self.io("connection does not match the protocol")),
        }
    }
}

/// One DL/T 645 read of an energy total: the first value of the answer (the total of a block).
async fn dlt645_read(
    stream: &mut Box<dyn Stream>,
    address: dlt645::Address,
    di: dlt645::DataId,
) -> std::io::Result<Result<u64, dlt645::Dlt645Error>> {
    stream.write_all(&dlt645::read_request(address, di)).await?;
    stream.flush().await?;
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a whole frame",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
        // Skip line noise before the first 68H (or FE preamble).
        let start = buf
            .iter()
            .position(|b| *b == 0x68 || *b == 0xFE)
            .unwrap_or(buf.len());
        match dlt645::decode_frame(&buf[start..]) {
            Err(dlt645::Dlt645Error::Incomplete { .. }) if buf.len() < 1024 => continue,
            Err(e) => return Ok(Err(e)),
            Ok((frame, _)) => {
                return Ok(
                    dlt645::parse_energy_answer(&frame, address, di).and_then(|v| {
                        v.first().copied().ok_or(dlt645::Dlt645Error::Mismatch {
                            what: "no value in the answer".into(),
                        })
                    }),
                )
            }
        }
    }
}

/// A boxed stream with the `Debug` tokio-modbus's TCP client asks for.
struct DebugStream(Box<dyn Stream>);

impl std::fmt::Debug for DebugStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("meter stream")
    }
}

impl AsyncRead for DebugStream {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for DebugStream {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
