import { fileURLToPath } from 'node:url'
import { dirname, join, resolve } from 'node:path'

/** The repository root and the shared reference data beside it (../shared, as CI lays it). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const SHARED_DATA_DIR =
  process.env.TOLLGATE_SHARED_DATA ?? join(REPO_ROOT, '..', 'shared', 'data')
