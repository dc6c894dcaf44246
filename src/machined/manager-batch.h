/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "manager.h"

/* berth's batched queries on the manager object (io.berth.Manager1, see berthd(8)):
 * one round trip for what machine1 answers one machine at a time. */
int manager_batch_register(Manager *m);
