using VirtualStack.Contracts.Flows;

namespace VirtualStack.Host.Flows;

/// <summary>Turns a payload received for a flow into a packet the application recognises and injects it.</summary>
internal interface IReplyWriter
{
    /// <summary>Builds the reply (from the address the application sent to, to the application) and writes it.</summary>
    void Write(in FlowKey flow, ReadOnlySpan<byte> payload);
}
