using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Decision;

/// <summary>Always the rule's first stack.</summary>
internal sealed class StaticPolicy : IFlowPolicy
{
    public static readonly StaticPolicy Instance = new();

    public string Name => "Static";

    public int Choose(in PacketInfo info, long flowCreatedAt, long now) => 0;
}
