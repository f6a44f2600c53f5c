from gridapp import create_app

app = create_app()
