// neostandard, the Fastify organisation's style, over every source, test, tool and example.
import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', 'bench/results/**'] }),
  {
    rules: {
      // `void promise;` marks a promise nobody awaits on purpose (typescript-eslint's convention
      // for a floating promise); `void` as a value stays refused.
      'no-void': ['error', { allowAsStatement: true }]
    }
  },
  {
    // Type tests declare values only to check their types.
    files: ['test/types/**'],
    rules: { '@typescript-eslint/no-unused-vars': 'off' }
  }
]
