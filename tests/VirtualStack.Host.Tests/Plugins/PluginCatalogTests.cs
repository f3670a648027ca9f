using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Tests.Infrastructure;

namespace VirtualStack.Host.Tests.Plugins;

public sealed class PluginCatalogTests
{
    [Fact]
    public void Loads_a_separately_built_plugin_with_shared_contract_types()
    {
        using var dir = new TempDirectory();
        dir.CopyFrom(Path.Combine(BuildPaths.TestPlugins, "Good"), "Good");

        using PluginCatalog catalog = PluginCatalog.Load(dir.Path);

        Assert.Empty(catalog.Failures);
        LoadedPlugin plugin = Assert.Single(catalog.Plugins);
        Assert.Equal("Good", plugin.Name);
        IStackFactory? echo = catalog.FindStack("Echo");
        Assert.NotNull(echo);
        // Type identity holds across the load context: the plugin's factory is the host's IStackFactory.
        Assert.NotEqual(typeof(PluginCatalog).Assembly, echo.GetType().Assembly);
        Assert.Same(typeof(IStackFactory).Assembly, echo.GetType().GetInterfaces().Single(i => i.Name == nameof(IStackFactory)).Assembly);
        Assert.Null(echo.Validate(new StackOptions("e", "Echo", new Dictionary<string, string>())));
    }

    [Fact]
    public void Reports_broken_modules_by_name_and_reason_and_still_loads_the_others()
    {
        using var dir = new TempDirectory();
        dir.CopyFrom(Path.Combine(BuildPaths.TestPlugins, "Good"), "Good");
        dir.CopyFrom(Path.Combine(BuildPaths.TestPlugins, "Broken"), "Broken");

        using PluginCatalog catalog = PluginCatalog.Load(dir.Path);

        Assert.NotNull(catalog.FindStack("Echo"));
        Assert.Contains(catalog.Failures, f => f.Name == "Broken" && f.Reason.Contains("constructor threw", StringComparison.Ordinal) && f.Reason.Contains("refuses to run", StringComparison.Ordinal));
        Assert.Contains(catalog.Failures, f => f.Name == "WrongAbi" && f.Reason.Contains("contract version", StringComparison.Ordinal));
    }

    [Fact]
    public void Reports_a_corrupt_assembly()
    {
        using var dir = new TempDirectory();
        dir.CopyFrom(Path.Combine(BuildPaths.TestPlugins, "Good"), "Good");
        Directory.CreateDirectory(dir.Combine("Corrupt"));
        File.WriteAllBytes(dir.Combine("Corrupt", "Corrupt.dll"), [0x4d, 0x5a, 1, 2, 3, 4, 5, 6, 7]);

        using PluginCatalog catalog = PluginCatalog.Load(dir.Path);

        PluginFailure failure = Assert.Single(catalog.Failures);
        Assert.Equal("Corrupt", failure.Name);
        Assert.Contains("not a valid .NET assembly", failure.Reason, StringComparison.Ordinal);
        Assert.NotNull(catalog.FindStack("Echo"));
    }

    [Fact]
    public void Reports_a_missing_dependency()
    {
        using var dir = new TempDirectory();
        string folder = dir.CopyFrom(Path.Combine(BuildPaths.TestPlugins, "Good"), "Good");
        File.Delete(Path.Combine(folder, "VirtualStack.TestPlugins.Dependency.dll"));

        using PluginCatalog catalog = PluginCatalog.Load(dir.Path);

        PluginFailure failure = Assert.Single(catalog.Failures);
        Assert.Contains("VirtualStack.TestPlugins.Dependency", failure.Reason, StringComparison.Ordinal);
        Assert.Null(catalog.FindStack("Echo"));
    }

    [Fact]
    public void Reports_a_folder_without_a_plugin_assembly_and_a_missing_directory()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.Combine("Empty"));

        using PluginCatalog catalog = PluginCatalog.Load(dir.Path);
        using PluginCatalog missing = PluginCatalog.Load(dir.Combine("nowhere"));

        Assert.Contains("no plugin assembly", Assert.Single(catalog.Failures).Reason, StringComparison.Ordinal);
        Assert.Contains("does not exist", Assert.Single(missing.Failures).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void The_shipped_plugins_load_without_failures()
    {
        using PluginCatalog catalog = PluginCatalog.Load(BuildPaths.VsPlugins);

        Assert.Empty(catalog.Failures);
        Assert.Contains(catalog.Plugins, p => p.Name == "Udp");
        Assert.Contains(catalog.Plugins, p => p.Name == "Raw");
        Assert.Contains(catalog.Plugins, p => p.Name == "Nat");
        // No plugin folder may carry its own copy of the contracts: it would break type identity.
        Assert.Empty(Directory.GetFiles(BuildPaths.VsPlugins, "VirtualStack.Contracts.dll", SearchOption.AllDirectories));
    }
}
