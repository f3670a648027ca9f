using System.Reflection;

namespace VirtualStack.Host.Tests.Infrastructure;

/// <summary>Where the build put the test plugins and the real plugins (recorded in this assembly at build time).</summary>
internal static class BuildPaths
{
    public static string TestPlugins => Metadata("TestPluginsPath");

    public static string VsPlugins => Metadata("VsPluginsPath");

    private static string Metadata(string key) =>
        typeof(BuildPaths).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}
