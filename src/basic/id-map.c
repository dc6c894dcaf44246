/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "id-map.h"

void id_map_done(IdMap *m) {
        free(m->items);
        *m = (IdMap) {};
}

int id_map_copy(const IdMap *m, IdMap *ret) {
        IdMap c = {};

        if (m->n > 0) {
                c.items = malloc(sizeof(IdMapping) * m->n);
                if (!c.items)
                        return -ENOMEM;
                memcpy(c.items, m->items, sizeof(IdMapping) * m->n);
                c.n = m->n;
        }
        *ret = c;
        return 0;
}

uint32_t id_map_outside(const IdMap *m, uint32_t id) {
        for (size_t i = 0; i < m->n; i++)
                if (id >= m->items[i].inside && id - m->items[i].inside < m->items[i].count)
                        return m->items[i].outside + (id - m->items[i].inside);
        return ID_UNMAPPED;
}

char *id_map_to_string(const IdMap *m) {
        char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return NULL;
        for (size_t i = 0; i < m->n; i++)
                fprintf(f, "%u %u %u\n", m->items[i].inside, m->items[i].outside, m->items[i].count);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}
