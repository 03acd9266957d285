import SluiceCLI

await SluiceCommand.execute()
