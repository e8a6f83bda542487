// Types for scripts/svg-chart.mjs (plain ESM, no build step), used by TypeScript tests and benches.
export type Point = [number, number]

export interface Series {
  name: string
  points: Point[]
  color?: string
  /** Draw as a staircase (for states). */
  step?: boolean
  dashed?: boolean
}

export interface Band {
  from: number
  to: number
  label?: string
  color?: string
}

export interface Panel {
  title?: string
  yLabel?: string
  yMin?: number
  yMax?: number
  /** Tick values, or [value, label] pairs. */
  yTicks?: Array<number | [number, string]>
  series: Series[]
}

export interface ChartOptions {
  title?: string
  xLabel?: string
  width?: number
  panelHeight?: number
  xMin?: number
  xMax?: number
  /** Tick values, or [value, label] pairs (e.g. categories at 0, 1, 2, …). Default: round values. */
  xTicks?: Array<number | [number, string]>
  bands?: Band[]
  panels: Panel[]
}

export interface LineChartOptions {
  title?: string
  xLabel?: string
  yLabel?: string
  series: Series[]
  width?: number
  height?: number
  xMin?: number
  xMax?: number
  yMin?: number
  yMax?: number
  bands?: Band[]
}

export declare function escapeXml (value: unknown): string
export declare function niceTicks (min: number, max: number, count?: number): number[]
export declare function chart (options: ChartOptions): string
export declare function lineChart (options: LineChartOptions): string
