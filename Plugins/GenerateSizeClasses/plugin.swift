import PackagePlugin

@main
struct GenerateSizeClasses: CommandPlugin {
    func performCommand(context: PluginContext, arguments: [String]) async throws {}
}
