// Where guarded-worker.mjs lies: beside this file, in the sources and in both dist trees. A .cts
// file, so that `__dirname` exists in the ESM build too (it is compiled to CommonJS either way).
import { join } from 'node:path'

export const GUARDED_WORKER = join(__dirname, 'guarded-worker.mjs')
