/*
 * hello_fcgi_threads - baseline F of the benchmark suite: hello_fcgi.c's
 * minimal libfcgi answer, served by as many threads per process as
 * parley-fcgi runs ([server] threads), so that behind the same lighttpd
 * configuration (same "max-procs") it has exactly Parley's worker count.
 *
 *   hello_fcgi_threads [THREADS]      (default 8; the socket is on fd 0)
 *
 * Each thread runs the FCGX_Accept_r loop of libfcgi's threaded example on
 * the shared listening socket, as src/fcgi_server.c does. On this 2-core
 * machine the single-threaded hello_fcgi behind the same lighttpd does
 * ~20-25% fewer requests/s, so it would be the weaker baseline.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <fcgiapp.h>

static void *
serve(void *arg)
{
	FCGX_Request r;

	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		FCGX_FPrintF(r.out, "Status: 200 OK\r\n"
		                    "Content-Type: text/plain\r\n"
		                    "Content-Length: 13\r\n\r\n"
		                    "Hello, world!");
		FCGX_Finish_r(&r);
	}
	return arg;
}

int
main(int argc, char **argv)
{
	pthread_t tid[256];
	long n = 8;

	if (argc > 1) {
		char *end;

		n = strtol(argv[1], &end, 10);
		if (*end != '\0' || n < 1 || n > 256) {
			fprintf(stderr,
			        "usage: hello_fcgi_threads [THREADS]\n");
			return 2;
		}
	}
	if (FCGX_Init() != 0)
		return 1;
	for (long i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, serve, NULL) != 0)
			return 1;
	for (long i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	return 0;
}
