namespace VirtualStack.Dccp.Tests;

/// <summary>
/// Tests that open raw DCCP endpoints on 127.0.0.1 run one at a time: a raw socket for protocol 33 sees every DCCP
/// packet on its address, so two endpoints there answer each other's packets with Reset(No Connection), as an
/// endpoint must for a connection it does not know (seen in CI when the stack tests and the loopback tests overlapped).
/// </summary>
[CollectionDefinition(Name)]
public sealed class RawLoopbackCollection
{
    public const string Name = "raw DCCP on loopback";
}
