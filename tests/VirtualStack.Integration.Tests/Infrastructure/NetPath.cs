using System.Net;

namespace VirtualStack.Integration.Tests.Infrastructure;

/// <summary>
/// One veth path between the edge and the server namespace: path N uses 10.(200+N).0.0/30 and fd00:(200+N)::/64,
/// .1/::1 on the edge side, .2/::2 on the server side (design.md section 6).
/// </summary>
internal sealed record NetPath(int Index)
{
    /// <summary>Name of the veth end in the edge namespace (interface names are at most 15 characters).</summary>
    public string EdgeDevice => $"to-srv{Index}";

    /// <summary>Name of the veth end in the server namespace.</summary>
    public string ServerDevice => $"to-edge{Index}";

    public IPAddress EdgeV4 => IPAddress.Parse($"10.{200 + Index}.0.1");

    public IPAddress ServerV4 => IPAddress.Parse($"10.{200 + Index}.0.2");

    public IPAddress EdgeV6 => IPAddress.Parse($"fd00:{200 + Index}::1");

    public IPAddress ServerV6 => IPAddress.Parse($"fd00:{200 + Index}::2");

    /// <summary>The IPv4 prefix of this path as VS's <c>Tun.Capture</c> wants it (a /24 around the /30).</summary>
    public string CaptureV4 => $"10.{200 + Index}.0.0/24";

    public string CaptureV6 => $"fd00:{200 + Index}::/64";
}
