/*
 * fcgi_server.h - the FastCGI transport: accept loops, threads, prefork.
 *
 * Each thread owns one FCGX_Request, one MariaDB handle, one memcached
 * handle and one arena; nothing else survives a request. SIGTERM/SIGINT
 * stop accepting, let in-flight requests finish, then exit 0. With
 * workers > 0 a parent process forks that many children, restarts any that
 * die, and forwards the stop signal.
 */
#ifndef PARLEY_FCGI_SERVER_H
#define PARLEY_FCGI_SERVER_H

struct config;

/*
 * Opens the listening socket: spec "unix:/path", "/path", "host:port" or
 * ":port"; NULL/empty means fd 0 must already be a listening socket.
 * A unix socket is created with the process's umask, never wider: only
 * the web server may connect (run it as the same user, or put it in the
 * socket's group and use a umask such as 0007). Returns the fd or -1
 * with a message logged.
 */
int fcgi_server_listen(const char *spec);

/* Serves on listen_fd with cfg->threads threads (and cfg->workers processes). */
int fcgi_server_run(const struct config *cfg, int listen_fd);

#endif
