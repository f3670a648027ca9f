using VirtualStack.Contracts.Stacks;
using VirtualStack.Host.Configuration;
using VirtualStack.Host.Plugins;
using VirtualStack.Host.Stacks;

namespace VirtualStack.Host.Daemon;

/// <summary>Resolves configured stacks to plugin factories and validates their options, before anything is touched.</summary>
internal static class StackSet
{
    public static IReadOnlyList<(StackSettings Settings, IStackFactory Factory)> Resolve(VsSettings settings, PluginCatalog catalog)
    {
        var resolved = new List<(StackSettings, IStackFactory)>();
        foreach (StackSettings stack in settings.Stacks)
        {
            string key = $"{SettingsReader.Root}:Stacks:{stack.Name}";
            IStackFactory? factory = catalog.FindStack(stack.Plugin);
            if (factory is null)
            {
                string failures = catalog.Failures.Count == 0 ? string.Empty
                    : " Plugins that failed to load: " + string.Join("; ", catalog.Failures.Select(f => $"{f.Name}: {f.Reason}")) + ".";
                throw new ConfigurationException($"{key}:Plugin",
                    $"no plugin in {catalog.Directory} provides a stack '{stack.Plugin}' (available: {catalog.DescribeStacks()}).{failures}");
            }

            string? problem = factory.Validate(new StackOptions(stack.Name, stack.Plugin, stack.Options));
            if (problem is not null)
            {
                throw new ConfigurationException(key, problem);
            }

            resolved.Add((stack, factory));
        }

        return resolved;
    }

    public static StackRuntime[] Create(IReadOnlyList<(StackSettings Settings, IStackFactory Factory)> resolved, int mark, Action<string> log)
    {
        var runtimes = new List<StackRuntime>();
        try
        {
            foreach ((StackSettings settings, IStackFactory factory) in resolved)
            {
                ITransportStack stack = factory.Create(new StackOptions(settings.Name, settings.Plugin, settings.Options), new StackHost(mark, settings.Name, log));
                runtimes.Add(new StackRuntime(runtimes.Count, settings.Name, settings.Plugin, stack));
            }
        }
        catch
        {
            foreach (StackRuntime runtime in runtimes)
            {
                runtime.Stack.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }

            throw;
        }

        return runtimes.ToArray();
    }
}
