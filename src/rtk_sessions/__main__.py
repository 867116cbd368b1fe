from rtk_sessions.cli import main

main()
