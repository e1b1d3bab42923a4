using Hounsfield.Server.Cli;

return await CommandLine.RunAsync(args);
