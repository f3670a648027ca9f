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

    /// <summary>
    /// Every IPv4 and global IPv6 address of this network namespace's interfaces (loopback included) that a socket can
    /// bind to now.
    /// </summary>
    /// <remarks>
    /// Not filtered by the interface's operational state: .NET reports Up only with IFF_RUNNING, which follows the
    /// kernel's operstate, and the kernel sets that asynchronously (linkwatch, under the RTNL lock) after the link comes
    /// up; on a host busy creating and deleting namespaces a fresh veth that is up reads Down for a while. vs dccp listen
    /// without --address, started right after its namespace was built, listened on loopback only and never on the veth
    /// addresses. What a transport needs is an address it can bind to: a trial bind skips an IPv6 address still in
    /// duplicate address detection (tentative; binding it fails), which the state filter used to skip on a down
    /// interface.
    /// </remarks>
    public static IReadOnlyList<NetAddress> LocalAddresses()
    {
        var result = new List<NetAddress>();
        foreach (NetworkInterface nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            foreach (UnicastIPAddressInformation unicast in nic.GetIPProperties().UnicastAddresses)
            {
                IPAddress ip = unicast.Address;
                if (ip.AddressFamily == AddressFamily.InterNetwork
                    || (ip.AddressFamily == AddressFamily.InterNetworkV6 && !ip.IsIPv6LinkLocal && !ip.IsIPv4MappedToIPv6))
                {
                    NetAddress address = NetAddress.FromIPAddress(ip);
                    if (!result.Contains(address) && CanBind(ip))
                    {
                        result.Add(address);
                    }
                }
            }
        }

        return result;
    }

    private static bool CanBind(IPAddress ip)
    {
        try
        {
            using var probe = new Socket(ip.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            probe.Bind(new IPEndPoint(ip, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
