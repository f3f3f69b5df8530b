// Types of bench/soak-judge.js, for the tests (test/bench/soak-judge.test.ts).
export interface Point { readonly t: number; readonly v: number }
export interface Tolerance { readonly rel: number; readonly abs: number }
export interface JudgeOptions { readonly warmup?: number; readonly minPoints?: number }
export type Verdict = 'pass' | 'fail';

export interface GrowthVerdict {
  readonly verdict: Verdict;
  readonly reason: string;
  readonly points: number;
  readonly median?: number;
  readonly tolerance?: number;
  readonly growth?: number;
  readonly secondHalf?: number;
  readonly slopePerMin?: number;
  readonly middle?: { readonly median: number; readonly max: number };
  readonly last?: { readonly median: number; readonly max: number };
}
export interface ErrorRow { readonly t: number; readonly queries: number; readonly errors: number; readonly excluded?: string | null }
export interface ErrorVerdict {
  readonly verdict: Verdict; readonly reason: string; readonly points: number;
  readonly excluded?: number; readonly rate?: number; readonly trend?: number; readonly secondHalf?: number; readonly queries?: number; readonly errors?: number;
}
export interface SimpleVerdict { readonly verdict: Verdict; readonly reason: string; readonly [key: string]: unknown }

export interface SoakSample {
  readonly t: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly handles: number;
  readonly fds: number;
  readonly holdsPending: number;
  readonly answersPerS: number;
  readonly queries: number;
  readonly errors: number;
  readonly logLines: number;
  readonly excluded?: string | null;
}

export const WARMUP: number;
export const MIN_POINTS: number;
export const TOLERANCES: Readonly<Record<'rssMiB' | 'heapMiB' | 'handles' | 'fds' | 'holdsPending', Tolerance>>;
export const ERROR_RATE_SLACK: number;
export const MAX_ERROR_RATE: number;
export const ANSWERS_MAY_FALL: number;

export function median(xs: readonly number[]): number;
export function theilSen(points: readonly Point[]): number;
export function afterWarmup<P extends { readonly t: number }>(points: readonly P[], warmup?: number): P[];
export function thirds<P>(points: readonly P[]): [P[], P[], P[]];
export function judgeGrowth(points: readonly Point[], tolerance: Tolerance, opts?: JudgeOptions): GrowthVerdict;
export function judgeErrors(rows: readonly ErrorRow[], opts?: JudgeOptions & { readonly slack?: number; readonly maxRate?: number }): ErrorVerdict;
export function judgeNoFall(points: readonly Point[], opts?: JudgeOptions & { readonly mayFall?: number }): SimpleVerdict;
export function judgeFlowing(points: readonly Point[], opts?: JudgeOptions): SimpleVerdict;
export function judgeUnexpected(counts: Readonly<Record<string, number>>): SimpleVerdict;
export function judgeSoak(
  input: { readonly samples: readonly SoakSample[]; readonly unexpected?: Readonly<Record<string, number>> },
  opts?: JudgeOptions & { readonly tolerances?: Readonly<Record<string, Tolerance>> },
): { readonly pass: boolean; readonly verdicts: Readonly<Record<string, GrowthVerdict | ErrorVerdict | SimpleVerdict>> };
