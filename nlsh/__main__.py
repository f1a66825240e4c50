from nlsh.main import main

raise SystemExit(main())
