from data_copy.cli import main

main()
