/* ctl_retention.h - parleyctl retention (see ctl_retention.c for the usage). */
#ifndef PARLEY_CTL_RETENTION_H
#define PARLEY_CTL_RETENTION_H

struct config;

int ctl_retention(struct config *cfg, int argc, char **argv);

#endif
