// Types for scripts/options-table.mjs (plain ESM, no build step), used by the TypeScript tests.
import type ts from 'typescript'

export interface OptionRow { path: string, type: string, default: string, unit: string, description: string, piscina: boolean }
export declare const ROOT: string
export declare const OPTIONS_DOC: string
export declare const BEGIN: string
export declare const END: string
export declare function loadProgram (): { program: ts.Program, checker: ts.TypeChecker, exports: ts.Symbol[] }
export declare function collectOptions (checker: ts.TypeChecker, type: ts.Type, prefix?: string): OptionRow[]
export declare function optionRows (): OptionRow[]
export declare function optionsTable (rows?: OptionRow[]): string
export declare function withTable (markdown: string, table: string): string
