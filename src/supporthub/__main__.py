from supporthub.cli import main

main()
