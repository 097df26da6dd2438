/*
 * hello_fcgi - the minimal libfcgi program Parley's HTTP figures are
 * compared with ("F" in the benchmark tables).
 *
 * One single-threaded accept loop per process answering a fixed 200 with
 * a 13-byte body, exactly what a libfcgi tutorial writes. Run it behind the
 * same web server configuration as parley-fcgi, with the same number of
 * processes (lighttpd "max-procs"), and compare requests/s.
 *
 * Build: cc -O2 -o hello_fcgi tests/bench/hello_fcgi.c -lfcgi
 * It takes the listening socket on fd 0 (lighttpd bin-path, spawn-fcgi).
 *
 * How the accounts work compared GET /api/v1/auth/me with it: a copy of
 * the stack's own $STATE/etc/lighttpd.conf with only the port, pid/log
 * files, FastCGI socket and "bin-path" changed (same modules, access log
 * and "max-procs"), then, back to back on the same machine,
 *   wrk -t1 -c32 -d5s http://127.0.0.1:$HELLO_PORT/api/v1/hello
 *   wrk -t1 -c32 -d5s -H "Authorization: Bearer $TOKEN" \
 *       http://127.0.0.1:$PARLEY_PORT/api/v1/auth/me
 * (tests/bench/hello_fcgi_threads.c is the same answer from [server]
 * threads threads per process, the stronger baseline of the bench suite.)
 */
#include <fcgiapp.h>

int
main(void)
{
	FCGX_Stream *in, *out, *err;
	FCGX_ParamArray envp;

	while (FCGX_Accept(&in, &out, &err, &envp) >= 0)
		FCGX_FPrintF(out, "Status: 200 OK\r\n"
		    "Content-Type: text/plain\r\n"
		    "Content-Length: 13\r\n\r\n"
		    "Hello, world!");
	return 0;
}
