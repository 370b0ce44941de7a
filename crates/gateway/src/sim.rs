//! Simulated meters, for `tanji demo` and the tests: a DL/T 645-2007 meter behind a
//! serial-to-TCP converter and a Modbus TCP inverter, each serving a register that grows with
//! a simulated clock, the same clock the gateway runs on ([`SimClock::config`]).
//!
//! Both speak their protocol as the standards write it, on sockets, to whoever connects: the
//! gateway reads them exactly as it reads real meters. The DL/T 645 meter answers reads of
//! forward active energy (DI `00 01 00 00`) at its address with its register (8 BCD digits,
//! rolling over at 10⁸ counts), after a `FE FE` wake-up preamble; the inverter holds its yield
//! in input registers 100–101 (u32, low word first; functions 03 and 04; any other address is
//! exception 02). The Modbus side is written here from the Modbus application protocol (MBAP
//! header), independently of the gateway's client library.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::config::ClockConfig;
use crate::dlt645;
use crate::modbus::{self, RawValue, ValueType, WordOrder};

/// System time, Unix milliseconds (0 before 1970).
pub fn real_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A simulated clock: `sim_start` at the system instant `real_start_ms`, `speed` times faster
/// than real time, stopped at `stop_at` if set. The gateway's `[clock]` is the same mapping
/// ([`SimClock::config`]), so meters and gateway agree on the time.
#[derive(Clone, Copy, Debug)]
pub struct SimClock {
    /// Simulated Unix seconds at `real_start_ms`.
    pub sim_start: i64,
    /// System time, Unix milliseconds, at which the clock reads `sim_start`.
    pub real_start_ms: i64,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Where the clock stops, simulated Unix seconds.
    pub stop_at: Option<i64>,
}

impl SimClock {
    /// A clock reading `sim_start` now, running on.
    pub fn starting(sim_start: i64, speed: f64) -> SimClock {
        SimClock {
            sim_start,
            real_start_ms: real_ms(),
            speed,
            stop_at: None,
        }
    }

    /// The same clock, stopping at `t`.
    pub fn stopping_at(self, t: i64) -> SimClock {
        SimClock {
            stop_at: Some(t),
            ..self
        }
    }

    /// Now, simulated Unix seconds.
    pub fn now(&self) -> i64 {
        let now = self.sim_start
            + ((real_ms() - self.real_start_ms) as f64 * self.speed / 1000.0).floor() as i64;
        self.stop_at.map_or(now, |stop| now.min(stop))
    }

    /// Sleeps until the clock reads `t` (for ever, if it stops before `t`).
    pub async fn until(&self, t: i64) {
        if self.stop_at.is_some_and(|stop| stop < t) {
            std::future::pending::<()>().await;
        }
        let real = self.real_start_ms as f64 + (t - self.sim_start) as f64 * 1000.0 / self.speed;
        let wait = real - real_ms() as f64;
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait / 1000.0 + 0.001)).await;
        }
    }

    /// The gateway's `[clock]` for this clock.
    pub fn config(&self) -> ClockConfig {
        ClockConfig {
            sim_start: self.sim_start,
            real_start_ms: self.real_start_ms,
            speed: self.speed,
            stop_at: self.stop_at,
        }
    }
}

/// A meter's register (in counts) at simulated time `t`.
pub trait Register: Send + Sync + 'static {
    /// The register at `t`, Unix seconds.
    fn at(&self, t: i64) -> u64;
}

/// A register growing steadily: `base` before `from`, then `per_s / div` counts a second
/// (rounded down) until `to`, flat after.
#[derive(Clone, Copy, Debug)]
pub struct Growth {
    /// The register before `from`.
    pub base: u64,
    /// Start of the growth, Unix seconds.
    pub from: i64,
    /// End of the growth, Unix seconds.
    pub to: i64,
    /// Counts per second, times `div`.
    pub per_s: u64,
    /// Divisor of `per_s`.
    pub div: u64,
}

impl Register for Growth {
    fn at(&self, t: i64) -> u64 {
        let t = t.clamp(self.from, self.to);
        self.base + (t - self.from) as u64 * self.per_s / self.div.max(1)
    }
}

/// A register that advances once a step: `base` before `start`, then after each whole step
/// `k` since `start` the sum of the first `k` of `increments`; flat after the last. A read
/// anywhere within a step gives the same value, so interval values do not depend on when
/// within the boundary tolerance the gateway reads.
#[derive(Clone, Debug)]
pub struct Steps {
    /// The register before `start`.
    pub base: u64,
    /// When the first step starts, Unix seconds.
    pub start: i64,
    /// Length of a step, seconds (> 0).
    pub step_s: i64,
    /// What each step adds, counts.
    pub increments: Vec<u64>,
}

impl Steps {
    /// The register after every step.
    pub fn end(&self) -> u64 {
        self.base + self.increments.iter().sum::<u64>()
    }
}

impl Register for Steps {
    fn at(&self, t: i64) -> u64 {
        if t < self.start {
            return self.base;
        }
        let k = usize::try_from((t - self.start) / self.step_s.max(1)).unwrap_or(usize::MAX);
        self.base
            + self.increments[..k.min(self.increments.len())]
                .iter()
                .sum::<u64>()
    }
}

/// A running simulated meter: where it listens and what it served. Dropping it stops it.
#[derive(Debug)]
pub struct SimMeter {
    /// `host:port` it listens on.
    pub addr: String,
    served: Arc<Mutex<Vec<u64>>>,
    task: JoinHandle<()>,
}

impl SimMeter {
    /// Every register value it served, in order.
    pub fn served(&self) -> Vec<u64> {
        self.served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for SimMeter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn note(served: &Mutex<Vec<u64>>, value: u64) -> u64 {
    served
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(value);
    value
}

/// Starts a DL/T 645 meter at `address` behind a TCP converter on 127.0.0.1 (a free port).
pub async fn dlt645_meter(
    clock: SimClock,
    register: Arc<dyn Register>,
    address: dlt645::Address,
) -> std::io::Result<SimMeter> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let served = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&served);
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_dlt645(
                s,
                clock,
                Arc::clone(&register),
                address,
                Arc::clone(&log),
            ));
        }
    });
    Ok(SimMeter { addr, served, task })
}

async fn serve_dlt645(
    mut s: TcpStream,
    clock: SimClock,
    register: Arc<dyn Register>,
    meter: dlt645::Address,
    served: Arc<Mutex<Vec<u64>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match dlt645::decode_frame(&buf) {
                Err(dlt645::Dlt645Error::Incomplete { .. }) => break,
                Err(_) => {
                    buf.clear();
                    break;
                }
                Ok((frame, used)) => {
                    buf.drain(..used);
                    if frame.address != meter || frame.control != dlt645::CONTROL_READ {
                        continue;
                    }
                    // Eight BCD digits: the register rolls over at 10^8 counts.
                    let value = note(&served, register.at(clock.now()) % 100_000_000);
                    let di = dlt645::DI_FORWARD_ACTIVE_TOTAL;
                    let Some(answer) = dlt645::energy_answer(meter, di, &[value]) else {
                        continue;
                    };
                    let mut out = vec![0xFE, 0xFE];
                    out.extend(answer.encode());
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// Starts a Modbus TCP inverter (any unit id) on 127.0.0.1 (a free port): input registers
/// 100–101 hold `register` as a u32, low word first.
pub async fn modbus_inverter(
    clock: SimClock,
    register: Arc<dyn Register>,
) -> std::io::Result<SimMeter> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    let served = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&served);
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_modbus(
                s,
                clock,
                Arc::clone(&register),
                Arc::clone(&log),
            ));
        }
    });
    Ok(SimMeter { addr, served, task })
}

async fn serve_modbus(
    mut s: TcpStream,
    clock: SimClock,
    register: Arc<dyn Register>,
    served: Arc<Mutex<Vec<u64>>>,
) {
    loop {
        let mut head = [0u8; 7];
        if s.read_exact(&mut head).await.is_err() {
            return;
        }
        let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
        let mut pdu = vec![0u8; len.saturating_sub(1)];
        if s.read_exact(&mut pdu).await.is_err() || pdu.len() < 5 {
            return;
        }
        let function = pdu[0];
        let start = u16::from_be_bytes([pdu[1], pdu[2]]);
        let count = u16::from_be_bytes([pdu[3], pdu[4]]);
        let mut reply = Vec::new();
        if matches!(function, 0x03 | 0x04) && start == 100 && count == 2 {
            // A u32 register wraps at 2^32 counts.
            let value = note(&served, register.at(clock.now()) % (1 << 32));
            let words = modbus::encode(
                RawValue::Int(i128::from(value)),
                ValueType::U32,
                WordOrder::Little,
            );
            reply.push(function);
            reply.push(4);
            for w in words {
                reply.extend_from_slice(&w.to_be_bytes());
            }
        } else {
            // Exception 02: illegal data address.
            reply.extend_from_slice(&[function | 0x80, 0x02]);
        }
        let mut out = head[..4].to_vec();
        out.extend_from_slice(&((reply.len() + 1) as u16).to_be_bytes());
        out.push(head[6]);
        out.extend(reply);
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_advance_once_a_step_and_stay_flat_after() {
        let r = Steps {
            base: 1_000,
            start: 900,
            step_s: 900,
            increments: vec![5, 7],
        };
        // Before the start: the base; within the first step: still the base (no step done);
        // after one whole step: 1000 + 5; after both: 1000 + 5 + 7 = 1012, for ever.
        assert_eq!(r.at(0), 1_000);
        assert_eq!(r.at(1_799), 1_000);
        assert_eq!(r.at(1_800), 1_005);
        assert_eq!(r.at(2_699), 1_005);
        assert_eq!(r.at(2_700), 1_012);
        assert_eq!(r.at(99_999), 1_012);
        assert_eq!(r.end(), 1_012);
    }

    #[test]
    fn a_stopped_clock_reads_its_stop() {
        let c = SimClock::starting(1_000, 1_000_000.0).stopping_at(1_005);
        std::thread::sleep(Duration::from_millis(2));
        // 2 ms at 10^6× is 2000 simulated seconds: past the stop.
        assert_eq!(c.now(), 1_005);
        assert_eq!(c.config().stop_at, Some(1_005));
    }
}
