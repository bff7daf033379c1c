//! The functions the engine imports, defined on a [`Linker`]: Wisp's own (`wisp.log`, and
//! `wisp.call`/`wisp.take` for storage, see [`wisp_abi::hostcall`]) and the handful of WASI
//! preview 1 calls that Rust's standard library and QuickJS make.
//!
//! Why not `wasmtime-wasi`: the engine needs no files, sockets, arguments or environment (env
//! vars reach JS through the ABI), and building a full `WasiCtx` for every request would cost
//! more than the rest of instantiation. This shim gives exactly what the guest uses and refuses
//! the rest: clocks, random bytes, sleeping (`poll_oneoff` on clocks, served by tokio so that a
//! sleeping request holds no thread), writes to stdout/stderr (they go to the log) and
//! `proc_exit` (a trap).

use crate::pool::InstanceState;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmtime::{Caller, Extern, Linker, Memory};
use wasmtime::{Result, format_err};
use wisp_abi::LogLevel;
use wisp_abi::hostcall::{FetchBody, HostCall, HostReply};

const WASI: &str = "wasi_snapshot_preview1";
const ERRNO_SUCCESS: i32 = 0;
const ERRNO_BADF: i32 = 8;
const ERRNO_FAULT: i32 = 21;
const ERRNO_INVAL: i32 = 28;
const ERRNO_NOTSUP: i32 = 58;
const ERRNO_SPIPE: i32 = 70;
/// The longest single read of the host's random source a guest may ask for.
const MAX_RANDOM_BYTES: usize = 1 << 20;

fn memory<T>(caller: &mut Caller<'_, T>) -> Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(format_err!("the guest exports no memory")),
    }
}

/// Copies `len` bytes at `ptr` out of guest memory; `None` if out of bounds.
fn read_bytes<T>(caller: &mut Caller<'_, T>, ptr: i32, len: i32) -> Result<Option<Vec<u8>>> {
    let mem = memory(caller)?;
    let (ptr, len) = (ptr as u32 as usize, len as u32 as usize);
    Ok(mem
        .data(&caller)
        .get(ptr..ptr.saturating_add(len))
        .map(<[u8]>::to_vec))
}

/// Writes `bytes` at `ptr` in guest memory; false if out of bounds.
fn write_bytes<T>(caller: &mut Caller<'_, T>, ptr: i32, bytes: &[u8]) -> Result<bool> {
    let mem = memory(caller)?;
    Ok(mem.write(caller, ptr as u32 as usize, bytes).is_ok())
}

/// The time on WASI clock `id` in nanoseconds: 0 is the wall clock; the monotonic, process
/// and thread CPU-time clocks (1 to 3) are all served by one monotonic clock.
fn clock_nanos(id: u32) -> Option<u64> {
    match id {
        0 => Some(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as u64,
        ),
        1..=3 => Some(crate::clock::monotonic_nanos()),
        _ => None,
    }
}

/// Writes `bytes` at `ptr` and turns the outcome into a WASI errno.
fn write_errno<T>(caller: &mut Caller<'_, T>, ptr: i32, bytes: &[u8]) -> Result<i32> {
    Ok(if write_bytes(caller, ptr, bytes)? {
        ERRNO_SUCCESS
    } else {
        ERRNO_FAULT
    })
}

const NOT_IN_A_REQUEST: &str = "storage (KV, SQLite, Redis) and fetch are only available while \
     handling a request, not in top-level code";

pub fn add_to_linker(linker: &mut Linker<InstanceState>) -> Result<()> {
    linker.func_wrap(
        wisp_abi::IMPORT_MODULE,
        wisp_abi::IMPORT_LOG,
        |mut caller: Caller<'_, InstanceState>, level: i32, ptr: i32, len: i32| -> Result<()> {
            if let Some(bytes) = read_bytes(&mut caller, ptr, len)? {
                let line = String::from_utf8_lossy(&bytes);
                caller.data().log(LogLevel::from_i32(level), &line);
            }
            Ok(())
        },
    )?;

    // A storage call: decoded here, performed by the function's grant while the instance's fiber
    // is suspended (no thread is held), the reply kept until the guest takes it.
    linker.func_wrap_async(
        wisp_abi::IMPORT_MODULE,
        wisp_abi::IMPORT_CALL,
        |mut caller: Caller<'_, InstanceState>, (ptr, len): (i32, i32)| {
            Box::new(async move {
                let Some(bytes) = read_bytes(&mut caller, ptr, len)? else {
                    return Err(format_err!(
                        "wisp.call: the request lies outside guest memory"
                    ));
                };
                let result = match HostCall::decode(&bytes) {
                    Err(e) => Err(e.to_string()),
                    // A streamed response: no capability needed, the request's own client.
                    Ok(HostCall::ResponseHead { status, headers }) => caller
                        .data_mut()
                        .stream
                        .head(status, headers)
                        .map(|()| HostReply::Done),
                    // A whole response before the instance ends (its `waitUntil` work).
                    Ok(HostCall::Respond(response)) => caller
                        .data_mut()
                        .stream
                        .respond(response)
                        .map(|()| HostReply::Done),
                    Ok(HostCall::ResponseEnd) => {
                        caller.data_mut().stream.end();
                        Ok(HostReply::Done)
                    }
                    Ok(HostCall::ResponseChunk(chunk)) => match caller.data().stream.sender() {
                        Ok(sender) => crate::streaming::send_chunk(sender, chunk)
                            .await
                            .map(|()| HostReply::Done),
                        Err(e) => Err(e),
                    },
                    // Fetches run in the background; the engine collects them as they finish.
                    Ok(HostCall::Fetch(req)) => match caller.data().grant.clone() {
                        Some(grant) => {
                            let state = caller.data_mut();
                            let (deadline, budget) =
                                (state.deadline, state.subrequests_left.clone());
                            let (sink, stream) = match req.body {
                                FetchBody::Stream => {
                                    let (sink, stream) = crate::body::channel();
                                    (Some(sink), Some(stream))
                                }
                                _ => (None, None),
                            };
                            let id = state.fetches.start(
                                async move { grant.fetch(req, stream, deadline, &budget).await },
                                sink,
                            );
                            Ok(HostReply::FetchStarted(id))
                        }
                        None => Err(NOT_IN_A_REQUEST.to_owned()),
                    },
                    Ok(HostCall::FetchWait { timeout_ms }) => {
                        let timeout = timeout_ms.map(|ms| Duration::from_millis(ms.into()));
                        caller.data_mut().fetches.next(timeout).await
                    }
                    Ok(HostCall::FetchCancel(id)) => {
                        caller.data_mut().fetches.cancel(id);
                        Ok(HostReply::Done)
                    }
                    Ok(HostCall::FetchRead(id)) => {
                        caller.data_mut().fetches.read(id).map(|()| HostReply::Done)
                    }
                    // Sent in the background (the wait for room upstream is collected by
                    // FetchWait); no grant needed: the fetch was checked when it started.
                    Ok(HostCall::FetchSend { id, piece }) => caller
                        .data_mut()
                        .fetches
                        .send(id, piece)
                        .map(|()| HostReply::Done),
                    Ok(call) => match caller.data().grant.clone() {
                        Some(grant) => grant.perform(call, caller.data().deadline).await,
                        None => Err(NOT_IN_A_REQUEST.to_owned()),
                    },
                };
                let (reply, failure) = match result {
                    Ok(reply) => (reply.encode(), false),
                    Err(message) => (message.into_bytes(), true),
                };
                let len = u32::try_from(reply.len())
                    .map_err(|_| format_err!("wisp.call: the reply is larger than 4 GiB"))?;
                caller.data_mut().reply = reply;
                Ok(wisp_abi::pack_output(0, len, failure))
            })
        },
    )?;
    linker.func_wrap(
        wisp_abi::IMPORT_MODULE,
        wisp_abi::IMPORT_TAKE,
        |mut caller: Caller<'_, InstanceState>, ptr: i32, len: i32| -> Result<()> {
            let reply = std::mem::take(&mut caller.data_mut().reply);
            if reply.len() != len as u32 as usize {
                return Err(format_err!(
                    "wisp.take: the guest asked for {len} bytes of a {}-byte reply",
                    reply.len()
                ));
            }
            if !write_bytes(&mut caller, ptr, &reply)? {
                return Err(format_err!(
                    "wisp.take: the buffer lies outside guest memory"
                ));
            }
            Ok(())
        },
    )?;

    linker.func_wrap(
        WASI,
        "clock_time_get",
        |mut caller: Caller<'_, InstanceState>,
         id: i32,
         _precision: i64,
         out: i32|
         -> Result<i32> {
            let Some(nanos) = clock_nanos(id as u32) else {
                return Ok(ERRNO_INVAL);
            };
            write_errno(&mut caller, out, &nanos.to_le_bytes())
        },
    )?;

    linker.func_wrap(
        WASI,
        "random_get",
        |mut caller: Caller<'_, InstanceState>, ptr: i32, len: i32| -> Result<i32> {
            let len = len as u32 as usize;
            if len > MAX_RANDOM_BYTES {
                return Ok(ERRNO_INVAL);
            }
            let mut buf = vec![0u8; len];
            getrandom::fill(&mut buf)
                .map_err(|e| format_err!("the host's random source failed: {e}"))?;
            write_errno(&mut caller, ptr, &buf)
        },
    )?;

    // Only clock subscriptions are supported: that is how the guest sleeps between timers.
    linker.func_wrap_async(
        WASI,
        "poll_oneoff",
        |mut caller: Caller<'_, InstanceState>,
         (input, output, count, nevents): (i32, i32, i32, i32)| {
            Box::new(async move {
                const SUB: usize = 48;
                const EVENT: usize = 32;
                let count = count as u32 as usize;
                if count == 0 || count > 64 {
                    return Ok(ERRNO_INVAL);
                }
                let Some(subs) = read_bytes(&mut caller, input, (count * SUB) as i32)? else {
                    return Ok(ERRNO_FAULT);
                };
                let mut soonest: Option<(u64, Duration)> = None;
                for sub in subs.chunks_exact(SUB) {
                    let userdata = u64::from_le_bytes(sub[0..8].try_into().unwrap());
                    if sub[8] != 0 {
                        return Ok(ERRNO_NOTSUP);
                    }
                    let clock = u32::from_le_bytes(sub[16..20].try_into().unwrap());
                    let timeout = u64::from_le_bytes(sub[24..32].try_into().unwrap());
                    let absolute = u16::from_le_bytes(sub[40..42].try_into().unwrap()) & 1 == 1;
                    let wait = if absolute {
                        let Some(now) = clock_nanos(clock) else {
                            return Ok(ERRNO_INVAL);
                        };
                        Duration::from_nanos(timeout.saturating_sub(now))
                    } else {
                        Duration::from_nanos(timeout)
                    };
                    if soonest.is_none_or(|(_, w)| wait < w) {
                        soonest = Some((userdata, wait));
                    }
                }
                let (userdata, wait) = soonest.expect("count > 0");
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                let mut event = [0u8; EVENT];
                event[0..8].copy_from_slice(&userdata.to_le_bytes());
                // error = 0, type = clock (0)
                if !write_bytes(&mut caller, output, &event)?
                    || !write_bytes(&mut caller, nevents, &1u32.to_le_bytes())?
                {
                    return Ok(ERRNO_FAULT);
                }
                Ok(ERRNO_SUCCESS)
            })
        },
    )?;

    // stdout and stderr (a Rust panic message, for instance) go to the function's log.
    linker.func_wrap(
        WASI,
        "fd_write",
        |mut caller: Caller<'_, InstanceState>,
         fd: i32,
         iovs: i32,
         iovs_len: i32,
         nwritten: i32|
         -> Result<i32> {
            if fd != 1 && fd != 2 {
                return Ok(ERRNO_BADF);
            }
            let Some(iov_bytes) = read_bytes(&mut caller, iovs, iovs_len.saturating_mul(8))? else {
                return Ok(ERRNO_FAULT);
            };
            let mut text = Vec::new();
            for iov in iov_bytes.chunks_exact(8) {
                let ptr = i32::from_le_bytes(iov[0..4].try_into().unwrap());
                let len = i32::from_le_bytes(iov[4..8].try_into().unwrap());
                match read_bytes(&mut caller, ptr, len)? {
                    Some(b) => text.extend_from_slice(&b),
                    None => return Ok(ERRNO_FAULT),
                }
            }
            let written = text.len() as u32;
            let level = if fd == 2 {
                LogLevel::Error
            } else {
                LogLevel::Info
            };
            let line = String::from_utf8_lossy(&text);
            let line = line.trim_end();
            if !line.is_empty() {
                caller.data().log(level, line);
            }
            write_errno(&mut caller, nwritten, &written.to_le_bytes())
        },
    )?;

    linker.func_wrap(
        WASI,
        "fd_fdstat_get",
        |mut caller: Caller<'_, InstanceState>, fd: i32, out: i32| -> Result<i32> {
            if !(0..=2).contains(&fd) {
                return Ok(ERRNO_BADF);
            }
            // filetype = character device (2), no flags, no rights.
            let mut stat = [0u8; 24];
            stat[0] = 2;
            write_errno(&mut caller, out, &stat)
        },
    )?;
    linker.func_wrap(WASI, "fd_close", |_: i32| -> i32 { ERRNO_BADF })?;
    linker.func_wrap(
        WASI,
        "fd_seek",
        |fd: i32, _offset: i64, _whence: i32, _out: i32| -> i32 {
            if (0..=2).contains(&fd) {
                ERRNO_SPIPE
            } else {
                ERRNO_BADF
            }
        },
    )?;
    // The guest has no environment of its own: both calls report an empty one.
    linker.func_wrap(
        WASI,
        "environ_sizes_get",
        |mut caller: Caller<'_, InstanceState>, count: i32, size: i32| -> Result<i32> {
            let ok = write_bytes(&mut caller, count, &0u32.to_le_bytes())?
                && write_bytes(&mut caller, size, &0u32.to_le_bytes())?;
            Ok(if ok { ERRNO_SUCCESS } else { ERRNO_FAULT })
        },
    )?;
    linker.func_wrap(WASI, "environ_get", |_: i32, _: i32| -> i32 {
        ERRNO_SUCCESS
    })?;
    linker.func_wrap(WASI, "proc_exit", |code: i32| -> Result<()> {
        Err(format_err!("the engine called proc_exit({code})"))
    })?;
    Ok(())
}
