/* ctl_repair.h - parleyctl repair (see ctl_repair.c for the usage). */
#ifndef PARLEY_CTL_REPAIR_H
#define PARLEY_CTL_REPAIR_H

struct config;

int ctl_repair(struct config *cfg, int argc, char **argv);

#endif
