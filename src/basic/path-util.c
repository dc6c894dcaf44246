/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "path-util.h"
#include "string-util.h"

bool path_is_normalized(const char *p) {
        if (!path_is_absolute(p))
                return false;

        for (const char *c = p; *c; ) {
                size_t n;

                while (*c == '/')
                        c++;
                n = strcspn(c, "/");
                if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
                        return false;
                c += n;
        }
        return true;
}

char *path_simplify(char *p) {
        char *w = p;

        for (const char *r = p; *r; ) {
                if (r[0] == '/' && (r[1] == '/' || (r[1] == '.' && (r[2] == '/' || r[2] == 0)))) {
                        r += r[1] == '/' ? 1 : 2;
                        continue;
                }
                *w++ = *r++;
        }
        if (w > p + 1 && w[-1] == '/')
                w--;
        if (w == p)
                *w++ = '/';
        *w = 0;
        return p;
}

char *path_join(const char *a, const char *b) {
        char *r = strjoin(a, "/", b);
        return r ? path_simplify(r) : NULL;
}

char *path_basename(const char *p) {
        size_t l = strlen(p);
        const char *e;

        while (l > 0 && p[l - 1] == '/')
                l--;
        if (l == 0)
                return NULL;
        e = memrchr(p, '/', l);
        e = e ? e + 1 : p;
        return strndup(e, l - (size_t) (e - p));
}

int mkdir_parents_and_self(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);

        if (!p)
                return -ENOMEM;
        for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}
