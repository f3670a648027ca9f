using System.Reflection;
using McMaster.NETCore.Plugins;
using VirtualStack.Contracts.Plugins;
using VirtualStack.Contracts.Policies;
using VirtualStack.Contracts.Stacks;

namespace VirtualStack.Host.Plugins;

/// <summary>
/// Discovers and loads plugins: one folder per plugin under the plugins directory, each loaded into its own
/// <see cref="System.Runtime.Loader.AssemblyLoadContext"/> by McMaster.NETCore.Plugins, with the contracts assembly
/// shared so that a plugin's <see cref="IStackFactory"/> is the host's type. A plugin that fails to load is reported
/// with its name and the reason, and the others still load.
/// </summary>
internal sealed class PluginCatalog : IDisposable
{
    // Everything that crosses the plugin boundary lives in the contracts assembly; sharing any one of its types
    // shares the whole assembly (and so its type identity) with every plugin.
    private static readonly Type[] SharedTypes = [typeof(IPluginModule), typeof(IStackFactory), typeof(INatFactory), typeof(IPolicyFactory)];

    private readonly List<PluginLoader> _loaders = [];
    private readonly List<LoadedPlugin> _plugins = [];
    private readonly List<PluginFailure> _failures = [];
    private readonly Dictionary<string, (IStackFactory Factory, string Plugin)> _stacks = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (INatFactory Factory, string Plugin)> _nats = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (IPolicyFactory Factory, string Plugin)> _policies = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (IPluginCommand Command, string Plugin)> _commands = new(StringComparer.OrdinalIgnoreCase);

    private PluginCatalog(string directory)
    {
        Directory = directory;
    }

    public string Directory { get; }

    public IReadOnlyList<LoadedPlugin> Plugins => _plugins;

    public IReadOnlyList<PluginFailure> Failures => _failures;

    /// <summary>Resolves a configured plugins path: relative paths are relative to the vs executable's folder.</summary>
    public static string ResolvePath(string configured) =>
        Path.GetFullPath(Path.IsPathRooted(configured) ? configured : Path.Combine(AppContext.BaseDirectory, configured));

    public static PluginCatalog Load(string directory)
    {
        var catalog = new PluginCatalog(directory);
        if (!System.IO.Directory.Exists(directory))
        {
            catalog._failures.Add(new PluginFailure("(plugins)", directory, $"plugins directory '{directory}' does not exist"));
            return catalog;
        }

        foreach (string folder in System.IO.Directory.GetDirectories(directory).Order(StringComparer.Ordinal))
        {
            catalog.LoadFolder(folder);
        }

        return catalog;
    }

    public IStackFactory? FindStack(string name) => _stacks.TryGetValue(name, out var entry) ? entry.Factory : null;

    public INatFactory? FindNat(string name) => _nats.TryGetValue(name, out var entry) ? entry.Factory : null;

    public IPolicyFactory? FindPolicy(string name) => _policies.TryGetValue(name, out var entry) ? entry.Factory : null;

    /// <summary>The <c>vs</c> subcommand a plugin provides under <paramref name="name"/>, or null.</summary>
    public IPluginCommand? FindCommand(string name) => _commands.TryGetValue(name, out var entry) ? entry.Command : null;

    /// <summary>The policies found, by name, with the plugin that provides each.</summary>
    public IEnumerable<(IPolicyFactory Factory, string Plugin)> Policies => _policies.Values;

    /// <summary>A sentence for error messages: which policies are there.</summary>
    public string DescribePolicies() => _policies.Count == 0 ? "none" : string.Join(", ", _policies.Values.Select(p => p.Factory.Name).Order(StringComparer.Ordinal));

    /// <summary>A sentence for error messages: which stack types are there.</summary>
    public string DescribeStacks() => _stacks.Count == 0 ? "none" : string.Join(", ", _stacks.Keys.Order(StringComparer.Ordinal));

    private void LoadFolder(string folder)
    {
        string name = Path.GetFileName(folder);
        string? assemblyPath = FindAssembly(folder, name);
        if (assemblyPath is null)
        {
            _failures.Add(new PluginFailure(name, folder, $"no plugin assembly: expected {name}.dll or *.{name}.dll in {folder}"));
            return;
        }

        try
        {
            PluginLoader loader = PluginLoader.CreateFromAssemblyFile(assemblyPath, sharedTypes: SharedTypes);
            _loaders.Add(loader);
            Assembly assembly = loader.LoadDefaultAssembly();
            Type[] modules = FindModuleTypes(assembly);
            if (modules.Length == 0)
            {
                _failures.Add(new PluginFailure(name, folder, $"{Path.GetFileName(assemblyPath)} has no public class implementing {nameof(IPluginModule)}"));
                return;
            }

            foreach (Type type in modules)
            {
                LoadModule(name, folder, assembly, type);
            }
        }
        catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException or ReflectionTypeLoadException or TypeLoadException)
        {
            _failures.Add(new PluginFailure(name, folder, Describe(e)));
        }
    }

    private void LoadModule(string folderName, string folder, Assembly assembly, Type type)
    {
        IPluginModule module;
        try
        {
            module = (IPluginModule)Activator.CreateInstance(type)!;
        }
        catch (Exception e)
        {
            _failures.Add(new PluginFailure(folderName, folder, $"{type.FullName} constructor threw: {Describe(e)}"));
            return;
        }

        if (module.AbiVersion != ContractInfo.AbiVersion)
        {
            _failures.Add(new PluginFailure(module.Name, folder,
                $"built against contract version {module.AbiVersion}, this host speaks {ContractInfo.AbiVersion}: rebuild the plugin against this VirtualStack.Contracts"));
            return;
        }

        var registry = new Registry();
        try
        {
            module.Register(registry);
        }
        catch (Exception e)
        {
            _failures.Add(new PluginFailure(module.Name, folder, $"Register threw: {Describe(e)}"));
            return;
        }

        Register(_stacks, registry.Stacks, s => s.Name, "stack", module.Name, folder);
        Register(_nats, registry.Nats, n => n.Name, "NAT", module.Name, folder);
        Register(_policies, registry.Policies, p => p.Name, "policy", module.Name, folder);
        Register(_commands, registry.Commands, c => c.Name, "command", module.Name, folder);

        string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
            ?? assembly.GetName().Version?.ToString() ?? "?";
        _plugins.Add(new LoadedPlugin(module.Name, folder, version,
            registry.Stacks.Select(s => $"stack {s.Name}: {s.Description}")
                .Concat(registry.Nats.Select(n => $"nat {n.Name}"))
                .Concat(registry.Policies.Select(p => $"policy {p.Name}: {p.Description}"))
                .Concat(registry.Commands.Select(c => $"command vs {c.Name}: {c.Summary}"))
                .ToArray()));
    }

    // First come, first served: a name another plugin already provides is reported and ignored, never replaced.
    private void Register<T>(Dictionary<string, (T Item, string Plugin)> into, List<T> items, Func<T, string> name, string kind, string plugin, string folder)
    {
        foreach (T item in items)
        {
            string key = name(item);
            if (into.TryGetValue(key, out var existing))
            {
                _failures.Add(new PluginFailure(plugin, folder, $"{kind} '{key}' is already provided by plugin {existing.Plugin}; ignored"));
                continue;
            }

            into[key] = (item, plugin);
        }
    }

    private static string? FindAssembly(string folder, string name)
    {
        string exact = Path.Combine(folder, name + ".dll");
        if (File.Exists(exact))
        {
            return exact;
        }

        string[] suffixed = System.IO.Directory.GetFiles(folder, "*." + name + ".dll");
        return suffixed.Length == 1 ? suffixed[0] : null;
    }

    private static Type[] FindModuleTypes(Assembly assembly)
    {
        Type[] types;
        try
        {
            types = assembly.GetExportedTypes();
        }
        catch (ReflectionTypeLoadException e)
        {
            throw new TypeLoadException(Describe(e), e);
        }

        return types.Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IPluginModule).IsAssignableFrom(t)).ToArray();
    }

    private static string Describe(Exception e)
    {
        Exception inner = e is TargetInvocationException { InnerException: { } ti } ? ti : e;
        if (inner is ReflectionTypeLoadException load && load.LoaderExceptions.FirstOrDefault(x => x is not null) is { } first)
        {
            return $"missing dependency: {first.Message}";
        }

        return inner switch
        {
            BadImageFormatException => $"not a valid .NET assembly ({inner.Message})",
            FileNotFoundException f => $"missing dependency: {f.FileName ?? f.Message}",
            _ => $"{inner.GetType().Name}: {inner.Message}",
        };
    }

    public void Dispose()
    {
        foreach (PluginLoader loader in _loaders)
        {
            loader.Dispose();
        }
    }

    private sealed class Registry : IPluginRegistry
    {
        public List<IStackFactory> Stacks { get; } = [];

        public List<INatFactory> Nats { get; } = [];

        public void AddStack(IStackFactory factory) => Stacks.Add(factory ?? throw new ArgumentNullException(nameof(factory)));

        public List<IPolicyFactory> Policies { get; } = [];

        public void AddNat(INatFactory factory) => Nats.Add(factory ?? throw new ArgumentNullException(nameof(factory)));

        public void AddPolicy(IPolicyFactory factory) => Policies.Add(factory ?? throw new ArgumentNullException(nameof(factory)));

        public List<IPluginCommand> Commands { get; } = [];

        public void AddCommand(IPluginCommand command) => Commands.Add(command ?? throw new ArgumentNullException(nameof(command)));
    }
}

/// <summary>A plugin that loaded, with what it provides.</summary>
internal sealed record LoadedPlugin(string Name, string Folder, string Version, IReadOnlyList<string> Provides);

/// <summary>A plugin that did not load, and why.</summary>
internal sealed record PluginFailure(string Name, string Folder, string Reason);
