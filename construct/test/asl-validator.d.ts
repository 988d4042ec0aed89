// The one function the tests use from asl-validator, which ships no types.
declare module 'asl-validator' {
  export default function validator(definition: object, options?: object): { isValid: boolean; errors: unknown[] };
}
