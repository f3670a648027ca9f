using VirtualStack.Contracts.Net;
using VirtualStack.Contracts.Packets;
using VirtualStack.Contracts.Policies;

namespace VirtualStack.Plugins.Policies;

/// <summary>One entry of <c>RuleBased</c>'s <c>When</c> list: the fields a packet must match, and the stack it then takes.</summary>
internal sealed class PacketCondition
{
    public int Stack { get; set; }

    public byte? Protocol { get; set; }

    public NetPrefix? Source { get; set; }

    public NetPrefix? Destination { get; set; }

    public int SourcePortLow { get; set; }

    public int SourcePortHigh { get; set; } = ushort.MaxValue;

    public int DestinationPortLow { get; set; }

    public int DestinationPortHigh { get; set; } = ushort.MaxValue;

    /// <summary>Bounds of the whole IP packet's length, in bytes.</summary>
    public int MinSize { get; set; }

    public int MaxSize { get; set; } = ushort.MaxValue;

    public byte DscpLow { get; set; }

    public byte DscpHigh { get; set; } = 63;

    public TimeWindow? Time { get; set; }

    /// <summary>The sending socket's owner must be in this uid range (null: any sender, known or not).</summary>
    public (int Low, int High)? Uid { get; set; }

    /// <summary>The sending process must be in this control group or below it (null: any).</summary>
    public string? Cgroup { get; set; }

    /// <summary>True when every field given matches; the time window is checked by the caller (cached per second).</summary>
    public bool Matches(in PacketInfo packet, FlowSender? sender) =>
        Matches(packet) &&
        (Uid is not { } uid || (sender is not null && sender.Uid >= uid.Low && sender.Uid <= uid.High)) &&
        (Cgroup is not { } cgroup || (sender is not null && sender.InCgroup(cgroup)));

    /// <summary>True when every packet field given matches (the sender's fields are not looked at).</summary>
    public bool Matches(in PacketInfo packet) =>
        (Protocol is not { } protocol || protocol == packet.Protocol) &&
        packet.Flow.SourcePort >= SourcePortLow && packet.Flow.SourcePort <= SourcePortHigh &&
        packet.Flow.DestinationPort >= DestinationPortLow && packet.Flow.DestinationPort <= DestinationPortHigh &&
        packet.Length >= MinSize && packet.Length <= MaxSize &&
        packet.Dscp >= DscpLow && packet.Dscp <= DscpHigh &&
        (Source is not { } source || source.Contains(packet.Flow.Source)) &&
        (Destination is not { } destination || destination.Contains(packet.Flow.Destination));
}
