using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using VirtualStack.Contracts.Net;
using VirtualStack.Plugins.Dccp.Transport;

namespace VirtualStack.Plugins.Dccp.Stack;

/// <summary>Which local addresses to use: the DCCP transports bind to one specific address each.</summary>
internal static class Routing
{
    /// <summary>
    /// The local address the kernel routes <paramref name="remote"/> from, for sockets carrying
    /// <paramref name="mark"/> (a connected UDP socket: connect sends nothing, it only routes).
    /// </summary>
    public static NetAddress SourceAddressFor(NetEndpoint remote, int mark)
    {
        using var probe = new Socket(remote.Address.Family, SocketType.Dgram, ProtocolType.Udp);
        SocketHelpers.SetMark(probe, mark);
        probe.Connect(new IPEndPoint(remote.Address.ToIPAddress(), remote.Port == 0 ? 9 : remote.Port));
        return NetAddress.FromIPAddress(((IPEndPoint)probe.LocalEndPoint!).Address);
    }

    /// <summary>Every IPv4 and global IPv6 address of this network namespace's interfaces that are up (loopback included).</summary>
    public static IReadOnlyList<NetAddress> LocalAddresses()
    {
        var result = new List<NetAddress>();
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus is not (OperationalStatus.Up or OperationalStatus.Unknown))
            {
                continue;
            }

            foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
            {
                IPAddress ip = unicast.Address;
                if (ip.AddressFamily == AddressFamily.InterNetwork
                    || (ip.AddressFamily == AddressFamily.InterNetworkV6 && !ip.IsIPv6LinkLocal && !ip.IsIPv4MappedToIPv6))
                {
                    NetAddress address = NetAddress.FromIPAddress(ip);
                    if (!result.Contains(address))
                    {
                        result.Add(address);
                    }
                }
            }
        }

        return result;
    }
}
