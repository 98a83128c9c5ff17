// Compile-time check that types/heaptale.d.ts declares exactly what the module exports:
// every export, Heap method and Process method of wasm-bindgen's generated declarations
// (pkg/heaptale.d.ts), and nothing it lacks. www/tests/package.test.mjs runs tsc on it; a
// name in an error below ("Type '"newMethod"' does not satisfy the constraint 'never'") is
// one to add to (or remove from) types/heaptale.d.ts.
import type * as Generated from '../pkg/heaptale.js';
import type * as Typed from './heaptale.js';

type Never<T extends never> = T;
type Missing<A, B> = Exclude<keyof A, keyof B>;

export type HeapMethodsDeclared = Never<Missing<Generated.Heap, Typed.Heap>>;
export type HeapMethodsExist = Never<Missing<Typed.Heap, Generated.Heap>>;
export type ProcessMethodsDeclared = Never<Missing<Generated.Process, Typed.Process>>;
export type ProcessMethodsExist = Never<Missing<Typed.Process, Generated.Process>>;
export type ExportsDeclared = Never<Missing<typeof Generated, typeof Typed>>;
export type ExportsExist = Never<Missing<typeof Typed, typeof Generated>>;

// The same number of parameters as the generated ones, method by method (optional ones
// count as given).
type Arity<F> = F extends (...a: infer P) => unknown ? Required<P>['length'] : never;
type SameArity<G, T> = { [K in keyof G & keyof T]: Arity<G[K]> extends Arity<T[K]> ? (Arity<T[K]> extends Arity<G[K]> ? never : K) : K }[keyof G & keyof T];
export type HeapArity = Never<Exclude<SameArity<Generated.Heap, Typed.Heap>, 'free'>>;
export type ProcessArity = Never<SameArity<Generated.Process, Typed.Process>>;
