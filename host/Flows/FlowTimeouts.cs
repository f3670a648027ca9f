using VirtualStack.Contracts.Packets;

namespace VirtualStack.Host.Flows;

/// <summary>Idle timeouts per protocol (a rule may override them for its flows).</summary>
internal sealed record FlowTimeouts(TimeSpan Udp, TimeSpan Tcp, TimeSpan Icmp, TimeSpan Other)
{
    public static readonly FlowTimeouts Default = new(
        TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));

    public TimeSpan For(byte protocol) => protocol switch
    {
        IpProtocols.Udp => Udp,
        IpProtocols.Tcp => Tcp,
        IpProtocols.Icmp or IpProtocols.IcmpV6 => Icmp,
        _ => Other,
    };

    /// <summary>The shortest timeout: the idle sweep can stop once the oldest flow left is younger than it.</summary>
    public TimeSpan Shortest => TimeSpan.FromTicks(Math.Min(Math.Min(Udp.Ticks, Tcp.Ticks), Math.Min(Icmp.Ticks, Other.Ticks)));
}
