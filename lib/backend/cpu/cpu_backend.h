/* The CPU backend's factory entry (the factory in backend.c calls it). */
#ifndef TINFER_BACKEND_CPU_CPU_BACKEND_H
#define TINFER_BACKEND_CPU_CPU_BACKEND_H

#include "backend/backend.h"

/* A backend on this machine's cores, with the kernels chosen for this CPU. E_NOMEM. */
tinfer_status tf_backend_cpu_create(const tf_backend_config *config, tf_backend **out);

#endif
