"""Lambda forwarding: invocations of registered functions run the real `bootstrap` binary.

moto's Lambda never runs user code without Docker. For a function registered here
(`POST /_emulator/lambda/register` or `Emulator.register_lambda`), every invocation,
whatever the path (the Invoke API, InvokeAsync, or moto's Step Functions interpreter,
which calls the Invoke API of this emulator), runs the function's `bootstrap` under a
minimal Lambda Runtime API served on 127.0.0.1:

    GET  /2018-06-01/runtime/invocation/next
    POST /2018-06-01/runtime/invocation/{id}/response
    POST /2018-06-01/runtime/invocation/{id}/error
    POST /2018-06-01/runtime/init/error

Like Lambda, each function has warm instances (one process each, started on first use,
restarted when it dies, at most `MAX_INSTANCES` at once; an instance handles one
invocation at a time), the function timeout is enforced (the process is killed), and a
failure is answered with `FunctionError: Unhandled` and the `{"errorType",
"errorMessage"}` payload the runtime posted. `Event` invocations run in a background
thread and answer 202 at once; they are not retried. Processes write stdout and stderr,
with Lambda's START/END/REPORT lines, to one log file per function (`models.log_path`).
DeleteFunction stops the processes and drops the registration. Unregistered functions
keep moto's behaviour.
"""
