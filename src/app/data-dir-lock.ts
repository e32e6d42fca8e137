import { readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * One Tollgate per data directory. Two servers on one database would each take the other's
 * requests at their bank for leftovers of a dead process and reverse them, run two outboxes and
 * two expiry sweeps. The lock is a file holding the owner's process id, created exclusively; a
 * file left by a process that no longer runs (a crash, SIGKILL) is taken over.
 */
export const LOCK_FILE = 'tollgate.pid'

export class DataDirInUse extends Error {
  override readonly name = 'DataDirInUse'
  readonly code = 'data_dir_in_use'
}

export interface DataDirLock {
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void
}

/** Takes the lock of `dataDir` or throws DataDirInUse naming the process that holds it. */
export function lockDataDir(dataDir: string, pid: number = process.pid): DataDirLock {
  const path = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      writeFileSync(path, `${pid}\n`, { flag: 'wx', mode: 0o644 })
      let released = false
      return {
        release: () => {
          if (released) return
          released = true
          if (ownerOf(path) === pid) unlinkSync(path)
        },
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const owner = ownerOf(path)
    if (owner !== null && owner !== pid && isRunning(owner)) {
      throw new DataDirInUse(
        `another Tollgate (process ${owner}) is using ${dataDir}: stop it first, or give this one ` +
          `its own TOLLGATE_DATA_DIR (if no Tollgate runs, remove ${path})`,
      )
    }
    // Left by a process that is gone (or unreadable): take it over, once.
    try {
      unlinkSync(path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
  throw new DataDirInUse(`${dataDir} was locked by another Tollgate starting at the same time`)
}

function ownerOf(path: string): number | null {
  try {
    const text = readFileSync(path, 'utf8').trim()
    return /^\d{1,10}$/.test(text) ? Number(text) : null
  } catch {
    return null
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
