import { useId, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { useLoginMutation, useRegisterMutation } from '../api/api.ts';
import { apiError, describeError, type ApiError } from '../errors.ts';
import { useAppDispatch, useAppSelector } from '../hooks.ts';
import { loggedIn } from '../session.ts';

type Field = 'email' | 'password' | 'name';
type Problems = Partial<Record<Field | 'form', string>>;

/** The server's rules (the register route's schema), checked before asking it. */
function check(values: Record<Field, string>, registering: boolean): Problems {
  const problems: Problems = {};
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(values.email) || values.email.length > 254) problems.email = 'Enter an email address such as jane@example.com.';
  if (registering && (values.password.length < 8 || values.password.length > 128)) problems.password = 'Use 8 to 128 characters.';
  if (!registering && values.password.length === 0) problems.password = 'Enter your password.';
  if (registering && (values.name.trim().length === 0 || values.name.length > 100)) problems.name = 'Enter a name of up to 100 characters.';
  return problems;
}

/** Where the server's answer belongs: the field it names, or the form as a whole. */
function placed(error: ApiError | undefined): Problems {
  if (!error) return {};
  if (error.code === 'EMAIL_TAKEN') return { email: error.message };
  if (error.field === 'email' || error.field === 'password' || error.field === 'name') return { [error.field]: error.message };
  return { form: describeError(error) };
}

function TextField(props: { label: string; name: Field; type: string; value: string; problem: string | undefined; autoComplete: string; onChange: (value: string) => void }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        type={props.type}
        value={props.value}
        autoComplete={props.autoComplete}
        aria-invalid={props.problem ? true : undefined}
        aria-describedby={props.problem ? `${id}-problem` : undefined}
        onChange={(event) => props.onChange(event.target.value)}
      />
      {props.problem && (
        <p id={`${id}-problem`} className="error">
          {props.problem}
        </p>
      )}
    </div>
  );
}

function AccountForm({ registering }: { registering: boolean }) {
  const [values, setValues] = useState<Record<Field, string>>({ email: '', password: '', name: '' });
  const [problems, setProblems] = useState<Problems>({});
  const [login, loginState] = useLoginMutation();
  const [register, registerState] = useRegisterMutation();
  const dispatch = useAppDispatch();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const ended = useAppSelector((state) => state.session.ended);
  // Only a path of this shop: never an address elsewhere (//host and /\\host are other hosts to a browser).
  const wanted = params.get('next') ?? '';
  const next = /^\/(?![/\\])/.test(wanted) ? wanted : '/products';
  const busy = loginState.isLoading || registerState.isLoading;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = check(values, registering);
    setProblems(found);
    if (Object.keys(found).length > 0) return;
    if (registering) {
      const created = await register({ email: values.email, password: values.password, name: values.name.trim() });
      if ('error' in created) return setProblems(placed(apiError(created.error)));
    }
    const answer = await login({ email: values.email, password: values.password });
    if ('error' in answer) return setProblems(placed(apiError(answer.error)));
    dispatch(loggedIn(answer.data.access_token));
    navigate(next, { replace: true });
  };

  const set = (field: Field) => (value: string) => setValues((current) => ({ ...current, [field]: value }));
  return (
    <section>
      <h1>{registering ? 'Create an account' : 'Log in'}</h1>
      {ended === 'expired' && !registering && <p role="status">Your session has ended. Log in again to go on.</p>}
      <form onSubmit={submit} noValidate>
        {registering && <TextField label="Name" name="name" type="text" autoComplete="name" value={values.name} problem={problems.name} onChange={set('name')} />}
        <TextField label="Email" name="email" type="email" autoComplete="email" value={values.email} problem={problems.email} onChange={set('email')} />
        <TextField
          label="Password"
          name="password"
          type="password"
          autoComplete={registering ? 'new-password' : 'current-password'}
          value={values.password}
          problem={problems.password}
          onChange={set('password')}
        />
        {problems.form && (
          <p role="alert" className="error">
            {problems.form}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {registering ? 'Create account' : 'Log in'}
        </button>
      </form>
      {registering ? (
        <p>
          Have an account? <Link to={`/login?next=${encodeURIComponent(next)}`}>Log in</Link>
        </p>
      ) : (
        <p>
          New here? <Link to={`/register?next=${encodeURIComponent(next)}`}>Create an account</Link>
        </p>
      )}
    </section>
  );
}

export const Login = () => <AccountForm registering={false} />;
export const Register = () => <AccountForm registering />;
