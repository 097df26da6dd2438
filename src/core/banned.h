/*
 * banned.h - functions Parley code must not call.
 *
 * Included last by every .c file of ours (after system headers), so a use of
 * one of these fails to compile. Use snprintf with a length check, strtol /
 * strtoull with end-pointer checks, gmtime_r and localtime_r instead.
 */
#ifndef PARLEY_BANNED_H
#define PARLEY_BANNED_H

#define BANNED(func) sorry_##func##_is_banned_in_parley

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
#undef gmtime
#define gmtime(x) BANNED(gmtime)
#undef localtime
#define localtime(x) BANNED(localtime)

#endif
