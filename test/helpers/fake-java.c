/* A stand-in for a JVM, compiled by the tests (test/helpers/fake-java.ts).
 * `java -version` (any arguments ending in -version): prints a banner like a
 * JVM's on standard error, with the ids it runs under, and exits 0.
 * Anything else: sleeps until killed, as a running JVM would (its
 * /proc/<pid>/comm is "java" when the file is named java). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>

extern char **environ;

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[argc - 1], "-version") == 0) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    gid_t groups[64];
    int n = getgroups(64, groups);
    int envc = 0;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    for (char **p = environ; *p; p++) envc++;
    fprintf(stderr, "openjdk version \"0.0.1-octoscan-fake\"\n");
    fprintf(stderr, "ran-as uid=%u euid=%u suid=%u gid=%u egid=%u sgid=%u groups=", r, e, s, gr, ge, gs);
    for (int i = 0; i < n; i++) fprintf(stderr, "%s%u", i ? "," : "", groups[i]);
    fprintf(stderr, " env=%d\n", envc);
    return 0;
  }
  for (;;) pause();
}
