namespace VirtualStack.TestPlugins.Dependency;

/// <summary>A private dependency of the Good test plugin: deleting it from the plugin folder breaks that plugin.</summary>
public static class Greeting
{
    public static string Text => "echo";
}
