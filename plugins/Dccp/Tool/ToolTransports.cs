using System.Globalization;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Core;
using VirtualStack.Plugins.Dccp.Stack;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Plugins.Dccp.Tool;

/// <summary>Opens the transport a tool asked for, with a message that says what to do when it cannot.</summary>
internal static class ToolTransports
{
    public static IDccpTransport Open(DccpTransportKind kind, NetAddress local, ushort udpPort, int mtu, int mark, ushort remoteUdpPort)
    {
        try
        {
            return kind == DccpTransportKind.Udp
                ? new UdpEncapsulationTransport(local, udpPort, mtu, mark, remoteUdpPort)
                : new RawIpTransport(local, mtu, mark);
        }
        catch (System.Net.Sockets.SocketException e) when (kind == DccpTransportKind.Raw && e.SocketErrorCode == System.Net.Sockets.SocketError.AccessDenied)
        {
            throw new DccpToolException($"cannot open a raw IP socket for DCCP on {local}: {e.Message}; raw IP needs root or CAP_NET_RAW (or use --transport udp)");
        }
        catch (System.Net.Sockets.SocketException e)
        {
            string what = kind == DccpTransportKind.Udp ? $"UDP port {udpPort} on {local}" : $"a raw DCCP socket on {local}";
            throw new DccpToolException($"cannot open {what}: {e.Message}");
        }
    }

    public static string Describe(DccpTransportKind kind) => kind == DccpTransportKind.Udp ? "DCCP-UDP" : "raw IP";

    public static string Ms(TimeSpan t) => t.TotalMilliseconds.ToString("0.###", CultureInfo.InvariantCulture) + " ms";

    /// <summary>One line of connection statistics.</summary>
    public static string Describe(in DccpConnectionStats s) => string.Create(CultureInfo.InvariantCulture,
        $"cwnd {s.Cwnd}, ssthresh {(s.Ssthresh == int.MaxValue ? "-" : s.Ssthresh.ToString(CultureInfo.InvariantCulture))}, pipe {s.Pipe}, rtt {Ms(s.Rtt)}, rto {Ms(s.Rto)}, "
        + $"data lost {s.DataPacketsLost}, congestion events {s.CongestionEvents}, timeouts {s.Timeouts}, ack ratio {s.AckRatio}, "
        + $"packets sent {s.PacketsSent}, received {s.PacketsReceived}, drops {s.Drops}");
}

/// <summary>A run-time failure of <c>vs dccp</c> (exit status 1), with a message that says what to do.</summary>
internal sealed class DccpToolException(string message) : Exception(message);
