/* ctl_users.h - parleyctl keys / user (see ctl_users.c for the usage). */
#ifndef PARLEY_CTL_USERS_H
#define PARLEY_CTL_USERS_H

struct config;

int ctl_keys(struct config *cfg, int argc, char **argv);
int ctl_user(struct config *cfg, int argc, char **argv);

#endif
