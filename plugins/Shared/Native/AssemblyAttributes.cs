using System.Runtime.CompilerServices;

// Every native call here takes only pointers and primitives: no marshalling stub is ever needed, and this makes
// the compiler refuse a signature that would need one.
[assembly: DisableRuntimeMarshalling]
