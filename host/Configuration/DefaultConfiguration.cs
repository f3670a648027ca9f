namespace VirtualStack.Host.Configuration;

/// <summary>
/// The configuration <c>vs run</c> uses without <c>--config</c>: the example of the design notes (section 7),
/// without the DCCP stack until that plugin provides one.
/// </summary>
internal static class DefaultConfiguration
{
    public static byte[] Json => """
        {
          "VirtualStack": {
            "Tun": { "Name": "vs0", "Address": "10.200.0.1/24", "Address6": "fd00:200::1/64", "Mtu": 1500,
                     "Capture": [ "10.201.0.0/24", "fd00:201::/64" ] },
            "Plugins": { "Path": "plugins" },
            "Stacks": {
              "udp":  { "Plugin": "Udp" },
              "raw":  { "Plugin": "Raw" }
            },
            "Rules": [
              { "Name": "echo", "Match": { "Protocol": "udp", "DestinationPort": 7 },
                "Stacks": [ "udp" ], "Nat": { "udp": "10.201.0.2:7007" } },
              { "Name": "telemetry", "Match": { "Protocol": "udp", "DestinationPort": 9000 },
                "Stacks": [ "udp" ], "Nat": { "udp": "10.201.0.2:9000" } }
            ],
            "Default": "raw",
            "Flows": { "MaxFlows": 100000, "UdpIdleTimeout": "00:01:00" },
            "Management": { "Socket": "/run/virtualstack/vs.sock" }
          }
        }
        """u8.ToArray();
}
