//! Go's reflection service on a C server: `rpcx_server_enable_reflection` and
//! `rpcx_server_describe_method`.

use std::os::raw::c_char;

use rpcx_core::server::{MethodDescription, Reflection, TypeDescription};

use crate::error::Failure;
use crate::guard::{cstr, invalid_arg, opt_cstr, req, run};
use crate::server::rpcx_server;
use crate::status::rpcx_status;

/// Serves Go rpcx's reflection service on `server`: the service `Reflection` with the methods
/// `GetServices` (the text of every service) and `GetService` (one service, named by the
/// argument), as Go's `reflection` package does. Both take a string and answer a string of Go
/// source-like text naming each service, its methods and their argument and reply types
/// (`type (s *Arith) Mul(ctx context.Context, arg *Args, reply *Reply) error {…}`); an
/// unknown service answers the server error `not found service <name>`. JSON and MsgPack
/// callers send and receive coded strings, as Go's; raw callers (serialize type 0, the C
/// client's default) send the name's UTF-8 bytes and receive the text's bytes.
///
/// It describes every service registered on this server, before or after this call, before
/// or after `rpcx_server_start`; C handlers are described as raw `[]byte` in and out unless
/// `rpcx_server_describe_method` says otherwise. Only before `rpcx_server_start`
/// (`RPCX_ERR_INVALID_STATE` after); enabling twice is harmless. `RPCX_ERR_NULL_ARG` when
/// `server` is NULL. Thread-safe; nothing is called back.
#[no_mangle]
pub extern "C" fn rpcx_server_enable_reflection(server: Option<&rpcx_server>) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        // Checked and set under the lock `rpcx_server_start` holds while it reads
        // `reflection`, so a concurrent start either refuses this call or serves it.
        server.while_building(|| {
            server.reflection.get_or_init(Reflection::new);
        })
    })
}

/// Tells the reflection service (`rpcx_server_enable_reflection`, called first) what
/// `service.method` takes and answers. `args_type` and `reply_type` are the type names shown
/// in the method line (`"Args"`, `"[]byte"`, `"string"`); `args_definition` and
/// `reply_definition` are optional text printed before it, such as a Go struct
/// (`"type Args struct {\n\tA int64\n\tB int64\n}"`) or a `//` comment, NULL or `""` for
/// none. All are NUL-terminated UTF-8, copied; `service`, `method` and the type names must not
/// be empty. A later call for the same method replaces the description. Callable before or
/// after `rpcx_server_start` (the next `GetService` call shows it), for a method registered
/// or not yet.
///
/// `RPCX_ERR_INVALID_STATE` when reflection was not enabled, `RPCX_ERR_NULL_ARG` when a
/// required argument is NULL, `RPCX_ERR_INVALID_ARG` for an empty name or invalid UTF-8.
/// Thread-safe; nothing is called back.
#[no_mangle]
pub extern "C" fn rpcx_server_describe_method(
    server: Option<&rpcx_server>,
    service: *const c_char,
    method: *const c_char,
    args_type: *const c_char,
    args_definition: *const c_char,
    reply_type: *const c_char,
    reply_definition: *const c_char,
) -> rpcx_status {
    run(None, || {
        let server = req(server, "server")?;
        // SAFETY: the caller passes NUL-terminated strings (or NULL where allowed) valid
        // during the call.
        let (service, method, args_type, args_def, reply_type, reply_def) = unsafe {
            (
                cstr(service, "service")?,
                cstr(method, "method")?,
                cstr(args_type, "args_type")?,
                opt_cstr(args_definition, "args_definition")?,
                cstr(reply_type, "reply_type")?,
                opt_cstr(reply_definition, "reply_definition")?,
            )
        };
        if [service, method, args_type, reply_type]
            .iter()
            .any(|s| s.is_empty())
        {
            return Err(invalid_arg(
                "rpcx: service, method and type names must not be empty",
            ));
        }
        let reflection = server.reflection.get().ok_or_else(|| {
            Failure::new(
                rpcx_status::RPCX_ERR_INVALID_STATE,
                "rpcx: reflection is not enabled (rpcx_server_enable_reflection)",
            )
        })?;
        reflection.describe(
            service,
            method,
            MethodDescription::new(
                TypeDescription::with_definition(args_type, args_def.unwrap_or("")),
                TypeDescription::with_definition(reply_type, reply_def.unwrap_or("")),
            ),
        );
        Ok(())
    })
}
