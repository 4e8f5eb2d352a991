from t2mgpt.cli import main

raise SystemExit(main())
