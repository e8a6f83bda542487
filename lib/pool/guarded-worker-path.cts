// Where guarded-worker.cjs lies: beside this file, in the sources and in both dist trees. A .cts
// file, so that `__dirname` exists in the ESM build too (it is CommonJS in both). `export =`, so
// that ESM reads it as the default export: a loader that compiles this file on the fly leaves no
// `exports.name =` for Node to find named exports by.
import { join } from 'node:path'

export = join(__dirname, 'guarded-worker.cjs')
